"""Incremental feature runs on the real warehouse, the real qdrant-edge writer and real MiniLM.

Only what changed in the warehouse is re-processed; what is gone loses its chunks; a run that
dies before its commit marker (the cleaned-document record) is redone without duplicates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llm_engineering import bootstrap
from llm_engineering.application.preprocessing.cleaning import clean_document
from llm_engineering.application.rag.retriever import ContextRetriever
from llm_engineering.domain.documents import ArticleDocument
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.features import chunk_collection, cleaned_collection
from llm_engineering.domain.types import DataCategory
from tests.integration.features.conftest import Stores, snapshot
from tests.integration.features.texts import (
    CHESS_ARTICLE,
    HNSW_ARTICLE,
    LORA_ARTICLE,
    REPO_FILES,
    SOURDOUGH_POST,
)

pytestmark = pytest.mark.slow  # loads the real MiniLM


def _fill(stores: Stores) -> dict[str, Any]:
    ada = stores.user("Ada Test")
    return {
        "hnsw": stores.article(ada, "hnsw-settings", HNSW_ARTICLE),
        "lora": stores.article(ada, "lora-on-a-laptop", LORA_ARTICLE),
        "post": stores.post(ada, "7001", SOURDOUGH_POST),
        "repo": stores.repo(ada, "tiny-cache", REPO_FILES),
    }


def _chunk_points(snap: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {
        pid: p for name, points in snap.items() if name.startswith("embedded_") for pid, p in points.items()
    }


def _without(points: dict[str, dict[str, Any]], document_id: str) -> dict[str, dict[str, Any]]:
    return {pid: p for pid, p in points.items() if p["document_id"] != document_id}


def test_first_run_processes_all_and_a_rerun_touches_nothing(stores: Stores) -> None:
    docs = _fill(stores)
    first = stores.run()
    assert first.documents_per_category == {"articles": 2, "posts": 1, "repositories": 1}
    assert (first.unchanged_skipped, first.deleted, first.skipped_bad) == (0, 0, 0)
    before = stores.snapshot()
    chunks = _chunk_points(before)
    assert first.chunks == len(chunks) == len(stores.embedder.texts)
    assert len(stores.chunks_of(docs["hnsw"])) >= 2, "the long article must span several chunks"
    assert {p["document_id"] for p in chunks.values()} == {str(d.id) for d in docs.values()}
    for category in DataCategory:
        cleaned = before[cleaned_collection(category)]
        assert {p["source_hash"] for p in cleaned.values()} == {
            d.content_hash for d in docs.values() if d.category == category
        }
    assert first.tokens_per_chunk_p95 <= stores.embedder.inner.max_seq_length

    stores.embedder.texts.clear()
    stores.chunker_loads.clear()
    second = stores.run()
    assert second.documents_per_category == {} and second.chunks == 0
    assert second.unchanged_skipped == 4 and second.deleted == 0
    assert not second.changed, "a run with nothing to do must not publish"
    assert stores.embedder.texts == [] and stores.chunker_loads == [], "nothing may be chunked or embedded"
    assert stores.snapshot() == before


def test_changing_one_article_replaces_only_its_chunks(stores: Stores) -> None:
    docs = _fill(stores)
    stores.run()
    before = _chunk_points(stores.snapshot())
    old_hnsw = stores.chunks_of(docs["hnsw"])
    assert len(old_hnsw) >= 2

    changed = stores.article(
        stores.user("Ada Test"), "hnsw-settings", "Short now: tune ef, then measure recall."
    )
    assert changed.id == docs["hnsw"].id and changed.content_hash != docs["hnsw"].content_hash
    stores.embedder.texts.clear()

    report = stores.run()
    assert report.documents_per_category == {"articles": 1} and report.unchanged_skipped == 3
    after = _chunk_points(stores.snapshot())
    hnsw_id = str(docs["hnsw"].id)
    assert _without(after, hnsw_id) == _without(before, hnsw_id), "other documents' chunks must not change"
    new_hnsw = stores.chunks_of(docs["hnsw"])
    assert len(new_hnsw) == 1 and "tune ef" in next(iter(new_hnsw.values()))["content"]
    assert not set(old_hnsw) & set(after), "every old chunk of the changed article is gone"
    assert stores.embedder.texts == [p["content"] for p in new_hnsw.values()], "only it is re-embedded"
    cleaned = dict(stores.index.scroll(cleaned_collection(DataCategory.ARTICLES)))
    assert cleaned[hnsw_id]["source_hash"] == changed.content_hash


def test_deleting_a_document_removes_its_chunks_and_cleaned_record(stores: Stores) -> None:
    docs = _fill(stores)
    stores.run()
    before = _chunk_points(stores.snapshot())
    lora_id = str(docs["lora"].id)
    assert any(p["document_id"] == lora_id for p in before.values())

    stores.repository._db[ArticleDocument.collection].delete_one({"_id": lora_id})
    report = stores.run()
    assert report.deleted == 1 and report.chunks == 0 and report.unchanged_skipped == 3
    after = stores.snapshot()
    assert _chunk_points(after) == _without(before, lora_id)
    assert lora_id not in after[cleaned_collection(DataCategory.ARTICLES)]
    assert str(docs["hnsw"].id) in after[cleaned_collection(DataCategory.ARTICLES)]


def test_a_full_rebuild_gives_the_same_ids_and_payloads(stores: Stores) -> None:
    _fill(stores)
    stores.run()
    before = stores.snapshot()
    report = stores.run(full=True)
    assert report.documents_per_category == {"articles": 2, "posts": 1, "repositories": 1}
    assert report.unchanged_skipped == 0
    assert stores.snapshot() == before


def test_an_author_filter_processes_only_that_author(stores: Stores) -> None:
    docs = _fill(stores)
    bob = stores.user("Bob Other")
    chess = stores.article(bob, "chess-openings", CHESS_ARTICLE)

    report = stores.run(("Bob Other",))
    assert report.documents_per_category == {"articles": 1}
    points = _chunk_points(stores.snapshot())
    assert points and {p["author_full_name"] for p in points.values()} == {"Bob Other"}
    assert {p["document_id"] for p in points.values()} == {str(chess.id)}

    report = stores.run(("Ada Test",))
    assert report.documents_per_category == {"articles": 2, "posts": 1, "repositories": 1}
    assert report.unchanged_skipped == 0, "Bob's documents are outside the filter: not counted"
    assert report.deleted == 0, "a filtered run must not take other authors' chunks for deleted"
    owners = {p["document_id"] for p in _chunk_points(stores.snapshot()).values()}
    assert owners == {str(chess.id), *(str(d.id) for d in docs.values())}

    report = stores.run()
    assert report.chunks == 0 and report.unchanged_skipped == 5

    with pytest.raises(ConfigError, match="Nobody Here"):
        stores.run(("Nobody Here",))


def test_a_reader_opened_after_publish_sees_the_data(stores: Stores, embedder: Any) -> None:
    docs = _fill(stores)
    stores.run()
    with bootstrap.Services(stores.settings).vector_reader() as early:
        assert early.release is None and early.list_collections() == [], "unpublished writes are invisible"

    release = stores.index.publish()
    writer_view = stores.snapshot()
    with bootstrap.Services(stores.settings).vector_reader() as reader:
        assert reader.release == release
        assert snapshot(reader) == writer_view
        hits = ContextRetriever(reader, embedder).retrieve("How do I tune the HNSW search beam ef?", 3)
        assert hits[0].link == docs["hnsw"].link
        assert hits[0].author_full_name == "Ada Test" and hits[0].category == DataCategory.ARTICLES


def test_a_run_that_dies_before_its_commit_marker_is_redone_without_duplicates(
    stores: Stores, open_stores: Callable[..., Stores], monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _fill(stores)
    stores.run()
    ada = stores.user("Ada Test")
    stores.article(ada, "hnsw-settings", "Rewritten: the graph, the beam, the recall. " + LORA_ARTICLE)
    stores.article(ada, "chess-openings", CHESS_ARTICLE)

    real_upsert = stores.index.upsert

    def dying_upsert(name: str, *args: Any, **kwargs: Any) -> None:
        if name.startswith("cleaned_"):
            raise RuntimeError("killed between the chunk upsert and the cleaned-record write")
        real_upsert(name, *args, **kwargs)

    monkeypatch.setattr(stores.index, "upsert", dying_upsert)
    with pytest.raises(RuntimeError, match="killed"):
        stores.run()
    monkeypatch.undo()
    cleaned = dict(stores.index.scroll(cleaned_collection(DataCategory.ARTICLES)))
    assert cleaned[str(docs["hnsw"].id)]["source_hash"] == docs["hnsw"].content_hash, "marker not written"
    assert len(cleaned) == 2, "the new article has no marker yet"

    redo = stores.run()
    assert redo.documents_per_category == {"articles": 2}, "both uncommitted documents are redone"
    assert redo.unchanged_skipped == 3

    fresh = open_stores("fresh")
    fresh_report = stores.run(index=fresh.index)  # the same warehouse into an empty vector store
    assert _chunk_points(stores.snapshot()) == _chunk_points(fresh.snapshot())
    assert stores.snapshot() == fresh.snapshot()
    total = sum(stores.index.count(chunk_collection(c)) for c in DataCategory)
    assert total == fresh_report.chunks


def test_clean_chunk_and_ids_are_those_of_a_direct_chunking(stores: Stores) -> None:
    """The stored chunk ids are the chunker's deterministic ids for the cleaned document."""
    docs = _fill(stores)
    stores.run()
    expected = stores.chunkers[DataCategory.ARTICLES].chunk(clean_document(docs["hnsw"]))
    stored = stores.chunks_of(docs["hnsw"])
    assert set(stored) == {str(c.id) for c in expected}
    for chunk in expected:
        assert stored[str(chunk.id)]["content"] == chunk.content


def test_a_full_rebuild_for_one_author_keeps_the_other_authors(stores: Stores) -> None:
    docs = _fill(stores)
    bob = stores.user("Bob Other")
    chess = stores.article(bob, "chess-openings", CHESS_ARTICLE)
    stores.run()
    before = stores.snapshot()

    report = stores.run(("Bob Other",), full=True)
    assert report.documents_per_category == {"articles": 1}, "only Bob's documents are rebuilt"
    assert stores.snapshot() == before, "Ada's chunks and records survive; Bob's come back identical"
    assert stores.chunks_of(chess) and all(stores.chunks_of(d) for d in docs.values())

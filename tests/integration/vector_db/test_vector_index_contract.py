"""One contract for every `VectorIndex` adapter: edge, the release writer and qdrant-client's local mode."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable

import pytest

from llm_engineering.domain.types import DataCategory
from llm_engineering.infrastructure.db import qdrant
from llm_engineering.infrastructure.db.qdrant import QdrantVectorIndex
from llm_engineering.infrastructure.models.sparse import Bm25SparseEncoder


def _ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def _unit(angle_degrees: float) -> list[float]:
    """A 2-d direction padded to 4-d: cosine similarity to [1, 0, 0, 0] is cos(angle)."""
    radians = math.radians(angle_degrees)
    return [math.cos(radians), math.sin(radians), 0.0, 0.0]


class TestVectorIndexContract:
    def test_collections_are_created_once_listed_and_dropped(self, index: QdrantVectorIndex) -> None:
        assert index.list_collections() == []
        assert not index.collection_exists("articles")
        index.ensure_collection("articles", vector_size=4)
        index.ensure_collection("articles", vector_size=4)  # idempotent
        index.ensure_collection("cleaned", vector_size=None)
        assert index.collection_exists("articles")
        assert index.list_collections() == ["articles", "cleaned"]
        index.drop_collection("articles")
        assert index.list_collections() == ["cleaned"]
        assert not index.collection_exists("articles")

    def test_upsert_scroll_count_and_delete(self, index: QdrantVectorIndex, monkeypatch) -> None:
        monkeypatch.setattr(qdrant, "SCROLL_PAGE", 2)  # make scroll page through 5 points
        index.ensure_collection("chunks", vector_size=4)
        ids = _ids(5)
        payloads = [
            {"category": "articles" if i % 2 else "posts", "document_id": f"doc-{i // 2}", "i": i}
            for i in range(5)
        ]
        index.upsert("chunks", ids, payloads, [_unit(10 * i) for i in range(5)])
        assert index.count("chunks") == 5
        assert dict(index.scroll("chunks")) == dict(zip(ids, payloads, strict=True))

        posts = dict(index.scroll("chunks", filters={"category": "posts"}))
        assert sorted(p["i"] for p in posts.values()) == [0, 2, 4]
        some_docs = dict(index.scroll("chunks", filters={"document_id": ["doc-0", "doc-2"]}, fields=["i"]))
        assert sorted(some_docs.values(), key=lambda p: p["i"]) == [{"i": 0}, {"i": 1}, {"i": 4}]

        index.upsert("chunks", [ids[0]], [{**payloads[0], "i": 100}], [_unit(0)])  # same id: replaced
        assert index.count("chunks") == 5
        assert dict(index.scroll("chunks"))[ids[0]]["i"] == 100

        index.delete("chunks", [ids[1]])
        assert index.count("chunks") == 4
        index.delete_where("chunks", "document_id", ["doc-0", "doc-9"])
        assert sorted(p["i"] for _, p in index.scroll("chunks")) == [2, 3, 4]
        index.delete_where("chunks", "document_id", [])  # nothing named: nothing deleted
        assert index.count("chunks") == 3

    def test_upsert_rejects_columns_of_other_lengths(self, index: QdrantVectorIndex) -> None:
        index.ensure_collection("chunks", vector_size=4)
        with pytest.raises(ValueError, match="2 ids but 1 vectors"):
            index.upsert("chunks", _ids(2), [{}, {}], [_unit(0)])
        assert index.count("chunks") == 0

    def test_dense_search_is_best_first_and_filtered(self, index: QdrantVectorIndex) -> None:
        index.ensure_collection("chunks", vector_size=4)
        ids = _ids(6)
        author = uuid.uuid4()
        payloads = [
            {
                "category": DataCategory.ARTICLES.value if i < 3 else DataCategory.POSTS.value,
                "author_id": str(author) if i % 2 else str(uuid.uuid4()),
                "angle": 15 * i,
            }
            for i in range(6)
        ]
        index.upsert("chunks", ids, payloads, [_unit(15 * i) for i in range(6)])

        hits = index.search("chunks", _unit(0), limit=3)
        assert [h[0] for h in hits] == ids[:3]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
        assert hits[1][1] == pytest.approx(math.cos(math.radians(15)), abs=1e-5)
        assert hits[0][2] == payloads[0]

        posts = index.search("chunks", _unit(0), limit=10, filters={"category": DataCategory.POSTS})
        assert [h[0] for h in posts] == ids[3:]
        by_author = index.search("chunks", _unit(90), limit=10, filters={"author_id": author})
        assert [h[0] for h in by_author] == [ids[5], ids[3], ids[1]]
        either = index.search("chunks", _unit(0), limit=10, filters={"angle": [15, 60]})
        assert [h[0] for h in either] == [ids[1], ids[4]]

    def test_hybrid_search_finds_an_exact_keyword_that_dense_ranks_low(
        self, index: QdrantVectorIndex
    ) -> None:
        texts = [f"notes on cooking pasta and sauces, part {i}" for i in range(19)]
        texts.append("a field report on running postgres inside kubernetes operators")
        ids = _ids(len(texts))
        dense = [_unit(2 * i) for i in range(19)] + [_unit(85)]  # the keyword chunk points far away
        index.ensure_collection("chunks", vector_size=4, sparse=True)
        bm25 = Bm25SparseEncoder()
        sparse = [(v.indices, v.values) for v in bm25.encode_documents(texts)]
        index.upsert("chunks", ids, [{"text": t} for t in texts], dense, sparse)

        terms = bm25.encode_query("kubernetes")
        query = (terms.indices, terms.values)
        dense_only = [h[0] for h in index.search("chunks", _unit(0), limit=10)]
        assert ids[-1] not in dense_only
        hybrid = index.hybrid_search("chunks", _unit(0), query, limit=3)
        assert ids[-1] in [h[0] for h in hybrid]
        assert hybrid[0][1] >= hybrid[-1][1]
        filtered = index.hybrid_search("chunks", _unit(0), query, limit=3, filters={"text": texts[0]})
        assert [h[0] for h in filtered] == [ids[0]]

    def test_payload_only_collections(self, index: QdrantVectorIndex) -> None:
        index.ensure_collection("cleaned", vector_size=None)
        ids = _ids(3)
        payloads = [{"document_id": f"doc-{i}", "content": f"text {i}"} for i in range(3)]
        index.upsert("cleaned", ids, payloads)
        assert index.count("cleaned") == 3
        assert dict(index.scroll("cleaned", filters={"document_id": "doc-1"})) == {ids[1]: payloads[1]}
        index.delete_where("cleaned", "document_id", ["doc-0"])
        assert sorted(dict(index.scroll("cleaned")).values(), key=str) == sorted(payloads[1:], key=str)

    def test_data_survives_close_and_reopen(self, reopen: Callable[[], QdrantVectorIndex]) -> None:
        index = reopen()
        index.ensure_collection("chunks", vector_size=4)
        ids = _ids(2)
        index.upsert("chunks", ids, [{"i": 0}, {"i": 1}], [_unit(0), _unit(30)])
        index.flush()
        index.close()
        again = reopen()
        assert again.count("chunks") == 2
        assert [h[0] for h in again.search("chunks", _unit(30), limit=1)] == [ids[1]]

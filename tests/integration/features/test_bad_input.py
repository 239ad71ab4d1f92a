"""Bad input to the feature pipeline: empty, huge, binary and mis-decoded documents, a dead Qdrant.

Each is skipped with a reason or cleaned into readable text, and never stops the good documents;
an unreachable Qdrant server fails the run before anything is written.
"""

from __future__ import annotations

import hashlib
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llm_engineering import bootstrap
from llm_engineering.application import features
from llm_engineering.domain.documents import ALL_DOCUMENT_TYPES
from llm_engineering.domain.exceptions import StoreUnavailable
from llm_engineering.domain.types import DataCategory
from tests.conftest import REPO_ROOT
from tests.integration.features.conftest import Stores, make_settings, snapshot
from tests.integration.features.texts import LORA_ARTICLE, SOURDOUGH_POST

pytestmark = pytest.mark.slow  # loads the real MiniLM tokenizer and model

#: bytes no text encoding makes sense of
GARBAGE = random.Random(3).randbytes(4096)


def _all_points(index: Any) -> dict[str, dict[str, Any]]:
    return {pid: p for points in snapshot(index).values() for pid, p in points.items()}


def _ids_stored(index: Any) -> set[str]:
    """Document ids that have a chunk or a cleaned record anywhere."""
    out = set()
    for name, points in snapshot(index).items():
        for pid, payload in points.items():
            out.add(payload["document_id"] if name.startswith("embedded_") else pid)
    return out


def test_empty_documents_are_skipped_with_a_reason_and_the_others_stored(stores: Stores) -> None:
    ada = stores.user("Ada Test")
    good = stores.article(ada, "lora", LORA_ARTICLE)
    empty_article = stores.article(ada, "empty", "", title="A Title And Nothing Else")
    blank_post = stores.post(ada, "8001", " \n\t\u200b \n")
    post = stores.post(ada, "8002", SOURDOUGH_POST)

    report = stores.run()
    assert report.skipped_bad == 2
    assert report.documents_per_category == {"articles": 1, "posts": 1}
    stored = _ids_stored(stores.index)
    assert stored == {str(good.id), str(post.id)}

    cleaned = features.clean_documents([empty_article, blank_post])
    reasons = {s.document_id: s.reason for s in cleaned.skipped}
    assert set(reasons) == {str(empty_article.id), str(blank_post.id)}
    assert (
        empty_article.link in reasons[str(empty_article.id)]
        and "no text left" in reasons[str(empty_article.id)]
    )
    assert "8001" in reasons[str(blank_post.id)]


def test_a_document_that_becomes_empty_loses_its_chunks(stores: Stores) -> None:
    ada = stores.user("Ada Test")
    doc = stores.article(ada, "lora", LORA_ARTICLE)
    stores.run()
    assert stores.chunks_of(doc)
    stores.article(ada, "lora", "")
    report = stores.run()
    assert report.skipped_bad == 1 and report.changed, "readers must see the chunks go"
    assert not stores.chunks_of(doc)
    assert str(doc.id) not in _ids_stored(stores.index)


def test_meeting_the_same_empty_document_again_publishes_nothing(stores: Stores) -> None:
    """A bad document has no commit marker, so each run meets it again; that alone is no change."""
    ada = stores.user("Ada Test")
    stores.article(ada, "lora", LORA_ARTICLE)
    stores.article(ada, "empty", "")
    assert stores.run().changed
    before = snapshot(stores.index)
    again = stores.run()
    assert (again.skipped_bad, again.chunks, again.unchanged_skipped) == (1, 0, 1)
    assert not again.changed, "nothing new for readers: the step must not publish a new release"
    assert snapshot(stores.index) == before


class HashEmbedder:
    """Deterministic unit vectors from a text's SHA-256: the real model would need minutes here.

    Only the 5 MB test uses it: MiniLM embeds ~10-20 chunks/s on 2 cores and 5 MB makes ~4,500
    chunks. The cleaning, the tokenizer and the chunker stay the real ones.
    """

    dimension = 384

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(self.dimension)
            out[row] = vector / np.linalg.norm(vector)
        return out


def _prose(size: int) -> str:
    rng = random.Random(11)
    words = [
        *("vector", "index", "chunk", "embedding", "retrieval", "model", "token", "sentence", "paragraph"),
        *("search", "query", "latency", "memory", "engine", "shard", "payload", "filter", "recall"),
        *("precision", "cleaning", "overlap", "supercalifragilisticexpialidocious", "électricité", "東京"),
    ]
    paragraphs, total = [], 0
    while total < size:
        sentences = [
            " ".join(rng.choice(words) for _ in range(rng.randint(5, 25))).capitalize() + "."
            for _ in range(rng.randint(1, 8))
        ]
        paragraph = " ".join(sentences)
        if rng.random() < 0.02:  # a very long "word" with no natural cut
            paragraph += " " + "x" * rng.randint(500, 3000)
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    return "\n\n".join(paragraphs)


def test_a_5mb_article_is_chunked_within_the_model_limit_and_fully_covered(
    stores: Stores, embedder: Any
) -> None:
    ada = stores.user("Ada Test")
    text = _prose(5 * 1024 * 1024)
    big = stores.article(ada, "five-megabytes", text)
    small = stores.article(ada, "lora", LORA_ARTICLE)
    stores.embedder = HashEmbedder()

    started = time.monotonic()
    report = stores.run()
    elapsed = time.monotonic() - started
    assert report.documents_per_category == {"articles": 2}
    assert elapsed < 120, f"5 MB took {elapsed:.0f} s to clean, chunk and load"

    content = features.clean_documents([big]).documents[0].content
    assert len(content) >= 5 * 1024 * 1024
    chunks = sorted(stores.chunks_of(big).values(), key=lambda p: p["chunk_index"])
    assert len(chunks) == report.chunks - len(stores.chunks_of(small)) > 1000
    limit = embedder.max_seq_length
    assert max(c["token_count"] for c in chunks) <= limit
    sample = chunks[:: max(1, len(chunks) // 200)]
    real_counts = stores.chunkers[DataCategory.ARTICLES].count_tokens([c["content"] for c in sample])
    assert real_counts == [c["token_count"] for c in sample] and max(real_counts) <= limit

    covered = 0
    for c in chunks:
        assert c["content"] == content[c["start_char"] : c["end_char"]]
        assert c["start_char"] <= covered < c["end_char"], f"gap or stall before chunk {c['chunk_index']}"
        covered = c["end_char"]
    assert covered == len(content), "every character must be in a chunk"


def test_binary_garbage_is_skipped_or_left_out_with_a_note(stores: Stores) -> None:
    """Binary as the crawlers decode it (UTF-8 with errors="replace")."""
    ada = stores.user("Ada Test")
    garbage = GARBAGE.decode("utf-8", errors="replace")
    article = stores.article(ada, "binary", garbage)
    post = stores.post(ada, "9001", GARBAGE[:1000].decode("utf-8", errors="replace"))
    repo = stores.repo(
        ada,
        "with-binary",
        {"logo.png": garbage, "data.bin": "\x00\x01\x02\x03" * 64, "main.py": "print('hello')\n"},
    )

    report = stores.run()
    assert report.skipped_bad == 2 and report.documents_per_category == {"repositories": 1}
    assert _ids_stored(stores.index) == {str(repo.id)}
    skipped = features.clean_documents([article, post]).skipped
    assert [s.document_id for s in skipped] == [str(article.id), str(post.id)]

    text = "".join(p["content"] for p in stores.chunks_of(repo).values())
    assert "print('hello')" in text
    assert text.count("(binary or undecodable content omitted)") == 2
    assert "\ufffd" not in text and not any(ch < " " and ch not in "\n\t" for ch in text)


def test_non_utf8_text_is_repaired_or_kept_readable(stores: Stores) -> None:
    ada = stores.user("Ada Test")
    original = "It’s a café — naïve ‘quotes’ and a crème brûlée, déjà vu. " * 4
    mojibake = stores.article(ada, "mojibake", original.encode("utf-8").decode("cp1252"))
    latin1 = original.replace("’", "'").replace("—", "-").replace("‘", "'")
    replaced = stores.post(ada, "9100", latin1.encode("latin-1").decode("utf-8", errors="replace"))

    report = stores.run()
    assert report.skipped_bad == 0 and report.documents_per_category == {"articles": 1, "posts": 1}
    repaired = "".join(p["content"] for p in stores.chunks_of(mojibake).values())
    assert "It’s a café — naïve ‘quotes’ and a crème brûlée, déjà vu." in repaired
    assert "Ã" not in repaired and "â€" not in repaired
    kept = "".join(p["content"] for p in stores.chunks_of(replaced).values())
    assert "It's a caf\ufffd - na\ufffdve" in kept, "undecodable bytes stay as one marker each"
    assert "\ufffd\ufffd" not in kept


def test_binary_decoded_as_latin1_is_skipped(stores: Stores) -> None:
    ada = stores.user("Ada Test")
    stores.post(ada, "9002", GARBAGE.decode("latin-1"))
    report = stores.run()
    assert report.skipped_bad == 1 and report.chunks == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_qdrant_server_fails_before_anything_is_written(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    settings = make_settings(tmp_path / "data", QDRANT_URL=url)
    repository = bootstrap.connect_warehouse(settings)
    try:
        ada = repository.get_or_create_user("Ada Test")
        from llm_engineering.domain.documents import ArticleDocument

        repository.save(
            ArticleDocument(
                content={"Title": "Lora", "Content": LORA_ARTICLE},
                platform="medium",
                link="https://medium.com/@test/lora",
                author_id=ada.id,
                author_full_name=ada.full_name,
            )
        )
        before = {t.collection: repository.export_raw(t) for t in ALL_DOCUMENT_TYPES}

        started = time.monotonic()
        for mode in ("writer", "reader"):
            with (
                pytest.raises(StoreUnavailable) as caught,
                getattr(bootstrap.Services(settings), f"vector_{mode}")() as index,
            ):
                features.plan_feature_run(repository, index)  # never reached
            message = str(caught.value)
            assert url in message and "unreachable" in message and "\n" not in message
        assert time.monotonic() - started < 10

        assert {t.collection: repository.export_raw(t) for t in ALL_DOCUMENT_TYPES} == before
    finally:
        repository.close()
    assert not settings.vector_dir.exists()


def test_the_retrieve_cli_reports_an_unreachable_server_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    env = {
        "PATH": "/usr/bin:/bin",
        "DATA_DIR": str(tmp_path / "data"),
        "QDRANT_URL": url,
        "HF_HUB_OFFLINE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tools.rag", "retrieve", "anything", "--json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: Qdrant server at {url} is unreachable"), result.stderr[-2000:]
    assert not (tmp_path / "data" / "vectors").exists()

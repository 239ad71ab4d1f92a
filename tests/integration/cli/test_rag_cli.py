"""`tools.rag retrieve` on a real feature store: many queries in one process, and clear refusals.

The store is built once per module the way the feature pipeline builds it (real litemongo,
qdrant-edge, MiniLM and BM25), then published; the CLI runs in process through `main()`, so its
exit codes and stderr are the real ones.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from llm_engineering import bootstrap
from llm_engineering.application import features
from llm_engineering.domain.documents import ArticleDocument, PostDocument
from llm_engineering.infrastructure.models.sparse import Bm25SparseEncoder
from llm_engineering.settings import Settings, get_settings
from tests.integration.features.texts import CHESS_ARTICLE, HNSW_ARTICLE, LORA_ARTICLE, SOURDOUGH_POST
from tools import rag

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # loads the real MiniLM

HNSW_QUERY = "How do I tune the HNSW search beam ef?"
LORA_QUERY = "fine-tune a model with low-rank adapters on a laptop"
CHESS_QUERY = "what should I study to get better at chess openings"


@dataclass
class Store:
    data_dir: Path
    links: dict[str, str]


def _settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, DATA_DIR=data_dir)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Ada has three articles and a post, Bob one article; published as the pipeline publishes."""
    data_dir = tmp_path_factory.mktemp("rag") / "data"
    settings = _settings(data_dir)
    embedder = bootstrap.build_embedder(settings)
    repository = bootstrap.connect_warehouse(settings)
    links = {}
    try:
        ada = repository.get_or_create_user("Ada Test")
        bob = repository.get_or_create_user("Bob Test")
        for author, slug, text in [
            (ada, "hnsw", HNSW_ARTICLE),
            (ada, "lora", LORA_ARTICLE),
            (bob, "chess", CHESS_ARTICLE),
        ]:
            doc = ArticleDocument(
                content={"Title": slug.title(), "Content": text},
                platform="medium",
                link=f"https://medium.com/@test/{slug}",
                author_id=author.id,
                author_full_name=author.full_name,
            )
            repository.save(doc)
            links[slug] = doc.link
        repository.save(
            PostDocument(
                content={"text": SOURDOUGH_POST},
                platform="linkedin",
                link="https://www.linkedin.com/feed/update/urn:li:activity:7001",
                post_id="7001",
                author_id=ada.id,
                author_full_name=ada.full_name,
            )
        )
        with bootstrap.Services(settings).vector_writer() as index:
            chunkers = bootstrap.build_chunkers(settings, embedder)
            features.run_feature_pipeline(
                repository, index, lambda: chunkers, embedder, Bm25SparseEncoder(), ()
            )
            index.publish()
    finally:
        repository.close()
    return Store(data_dir, links)


@pytest.fixture
def use_data_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    def use(data_dir: Path) -> None:
        monkeypatch.setenv("DATA_DIR", str(data_dir))
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """`python -m tools.rag ARGS` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["rag", *args])
    with pytest.raises(SystemExit) as exited:
        rag.main()
    out = capsys.readouterr()
    return exited.value.code or 0, out.out, out.err


def _write_queries(path: Path, lines: list[dict | str]) -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_many_queries_in_one_run_answer_in_input_order_like_single_queries(
    store: Store, use_data_dir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    use_data_dir(store.data_dir)
    queries = _write_queries(
        tmp_path / "queries.jsonl",
        [
            {"query": CHESS_QUERY, "author": None},
            {"query": HNSW_QUERY, "author": "Ada Test"},
            "",
            # an eval-set line: its labels are ignored, a missing author means any author
            {"query": LORA_QUERY, "relevant_links": ["x"], "note": "eval labels"},
            {"query": HNSW_QUERY, "author": "Bob Test"},
        ],
    )
    code, out, err = _run(monkeypatch, capsys, "retrieve", "--queries", str(queries), "--k", "3", "--json")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["query"] for line in lines] == [CHESS_QUERY, HNSW_QUERY, LORA_QUERY, HNSW_QUERY]
    assert all(set(line) == {"query", "hits"} for line in lines)
    chess, hnsw, lora, hnsw_bob = (line["hits"] for line in lines)
    assert chess[0]["link"] == store.links["chess"]
    assert hnsw[0]["link"] == store.links["hnsw"]
    assert {hit["author_full_name"] for hit in hnsw} == {"Ada Test"}
    assert lora[0]["link"] == store.links["lora"]
    assert {hit["author_full_name"] for hit in hnsw_bob} == {"Bob Test"}, "each line's author filters"
    assert all(1 <= len(hits) <= 3 for hits in (chess, hnsw, lora))

    args = ("retrieve", HNSW_QUERY, "--author", "Ada Test", "--k", "3", "--json")
    code, out, err = _run(monkeypatch, capsys, *args)
    assert code == 0, err
    single = json.loads(out)
    assert single == hnsw, "a batch line answers exactly as the same single query"
    assert set(single[0]) == {"link", "author_full_name", "category", "score", "content"}


def test_dense_and_hybrid_are_both_selectable_and_hybrid_is_the_default(
    store: Store, use_data_dir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    use_data_dir(store.data_dir)
    results = {}
    for flag in ([], ["--hybrid"], ["--dense"]):
        code, out, err = _run(monkeypatch, capsys, "retrieve", HNSW_QUERY, "--k", "3", "--json", *flag)
        assert code == 0, err
        results[" ".join(flag)] = [(hit["link"], hit["score"]) for hit in json.loads(out)]
    assert results[""] == results["--hybrid"]
    assert results["--dense"] != results["--hybrid"], "RRF scores differ from cosine similarities"
    assert results["--dense"][0][0] == results["--hybrid"][0][0] == store.links["hnsw"]


def test_an_author_nobody_has_is_one_line_listing_the_known_authors(
    store: Store, use_data_dir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    use_data_dir(store.data_dir)
    code, out, err = _run(monkeypatch, capsys, "retrieve", HNSW_QUERY, "--author", "Nobody Here", "--json")
    assert code == 1 and out == ""
    assert err.strip() == (
        "error: no author named 'Nobody Here' in the feature store; known authors: Ada Test, Bob Test"
    )

    queries = _write_queries(
        tmp_path / "q.jsonl", [{"query": HNSW_QUERY, "author": "Ada Test"}, {"query": "x", "author": "Eve"}]
    )
    code, out, err = _run(monkeypatch, capsys, "retrieve", "--queries", str(queries), "--json")
    assert code == 1 and out == ""
    assert err.strip() == (
        "error: unknown authors in --queries: line 2 ('Eve'); known authors: Ada Test, Bob Test"
    )


def test_an_empty_feature_store_says_so_in_one_line(
    use_data_dir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    data_dir = tmp_path / "empty"
    use_data_dir(data_dir)
    code, out, err = _run(monkeypatch, capsys, "retrieve", HNSW_QUERY, "--json")
    assert code == 1 and out == ""
    assert err.strip() == (
        f"error: the feature store under {data_dir} holds no chunks: run `python -m tools.run features` first"
    )
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"query": "ok"}\nnot json\n', "line 2 is not"),
        ('{"author": "Ada Test"}\n', "line 1 is not"),
        ("\n\n", "holds no queries"),
    ],
)
def test_a_bad_queries_file_is_one_line_naming_the_line(
    content: str,
    expected: str,
    store: Store,
    use_data_dir,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    tmp_path: Path,
) -> None:
    use_data_dir(store.data_dir)
    path = tmp_path / "q.jsonl"
    path.write_text(content, encoding="utf-8")
    code, out, err = _run(monkeypatch, capsys, "retrieve", "--queries", str(path), "--json")
    assert code == 1 and out == ""
    assert err.startswith(f"error: --queries {path} ") and expected in err
    assert len(err.strip().splitlines()) == 1


def test_query_and_queries_file_are_exclusive(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    code, _, err = _run(monkeypatch, capsys, "retrieve")
    assert code == 2 and "give one QUERY or --queries FILE" in err
    path = _write_queries(tmp_path / "q.jsonl", [{"query": "x"}])
    code, _, err = _run(monkeypatch, capsys, "retrieve", "x", "--queries", str(path))
    assert code == 2 and "not both" in err

"""The hard retrieval eval set: reader's wording, two-article answers, author-scoped questions.

Labelled against the real handbook corpus, so its links must exist there, and its wording must
stay far from the articles' own (measured by eval/lexical_overlap.py) or it is not hard.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HARD_SET = REPO_ROOT / "eval" / "handbook_retrieval_hard.jsonl"
EASY_SET = REPO_ROOT / "eval" / "handbook_retrieval.jsonl"
HANDBOOK_DIR = REPO_ROOT.parent / "shared" / "datasets" / "handbook-articles"
AUTHORS = {"Maxime Labonne", "Paul Iusztin"}


def _load_overlap() -> ModuleType:
    path = REPO_ROOT / "eval" / "lexical_overlap.py"
    spec = importlib.util.spec_from_file_location("lexical_overlap", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


overlap = _load_overlap()


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    path = HANDBOOK_DIR / "ArticleDocument.json"
    if not path.exists():
        pytest.skip("../shared/datasets/handbook-articles is absent")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def queries() -> list[dict]:
    return _records(HARD_SET)


def test_every_record_has_the_expected_shape_and_the_set_its_mix(queries: list[dict]) -> None:
    assert len(queries) >= 60
    for record in queries:
        assert set(record) == {"query", "relevant_links", "author", "note"}, record
        assert isinstance(record["query"], str) and record["query"].strip()
        assert record["relevant_links"] and all(isinstance(x, str) for x in record["relevant_links"])
        assert len(set(record["relevant_links"])) == len(record["relevant_links"]), record
        assert record["author"] is None or record["author"] in AUTHORS, record
        assert isinstance(record["note"], str) and record["note"].strip()
    texts = [r["query"].lower() for r in queries]
    assert len(set(texts)) == len(texts), "duplicate queries"
    assert sum(len(r["relevant_links"]) >= 2 for r in queries) >= 10, "too few two-article questions"
    assert sum(r["author"] is not None for r in queries) >= 10, "too few author-scoped questions"


def test_no_query_repeats_one_of_the_easy_set(queries: list[dict]) -> None:
    easy = {r["query"].strip().lower() for r in _records(EASY_SET)}
    assert not [r["query"] for r in queries if r["query"].strip().lower() in easy]


def test_every_relevant_link_is_in_the_corpus(queries: list[dict], articles: list[dict]) -> None:
    known = {a["link"] for a in articles}
    missing = [link for r in queries for link in r["relevant_links"] if link not in known]
    assert not missing


def test_queries_spread_over_articles_and_both_authors(queries: list[dict], articles: list[dict]) -> None:
    author_of = {a["link"]: a["author_full_name"] for a in articles}
    relevant = {link for r in queries for link in r["relevant_links"]}
    assert len(relevant) >= 40
    assert {author_of[link] for link in relevant} == AUTHORS


def test_author_scoped_queries_name_their_author_and_point_at_their_articles(
    queries: list[dict], articles: list[dict]
) -> None:
    author_of = {a["link"]: a["author_full_name"] for a in articles}
    for record in queries:
        if record["author"] is None:
            assert not any(name.lower() in record["query"].lower() for name in AUTHORS), record
            continue
        assert record["author"] in record["query"], record
        assert all(author_of[link] == record["author"] for link in record["relevant_links"]), record


def test_no_query_contains_an_article_title(queries: list[dict], articles: list[dict]) -> None:
    titles = {(a["content"].get("Title") or "").strip().lower() for a in articles} - {""}
    offenders = [(r["query"], t) for r in queries for t in titles if t in r["query"].lower()]
    assert not offenders


def test_queries_are_in_the_readers_words_not_the_articles(queries: list[dict], articles: list[dict]) -> None:
    """Best 100-word passage of a relevant article holds under half of a query's content words on
    average, well below the easy set, and no query is lifted from its article."""
    text_of = overlap.load_corpus(HANDBOOK_DIR)
    hard = [passage for _, passage in overlap.set_overlap(queries, text_of)]
    easy = [passage for _, passage in overlap.set_overlap(_records(EASY_SET), text_of)]
    hard_mean, easy_mean = statistics.mean(hard), statistics.mean(easy)
    assert hard_mean <= 0.5, hard_mean
    assert hard_mean <= easy_mean - 0.15, (hard_mean, easy_mean)
    assert sum(p <= 0.5 for p in hard) >= len(hard) / 2
    assert max(hard) < 0.9, [r["query"] for r, p in zip(queries, hard, strict=True) if p >= 0.9]


def test_the_overlap_measure_sees_a_copied_sentence() -> None:
    article = "Gradient accumulation lets you increase the batch size virtually. " + "filler " * 300
    whole, passage = overlap.overlap("gradient accumulation increases batch size virtually", article)
    assert whole == passage == 1.0
    whole, passage = overlap.overlap("adding up small updates before a step", article)
    assert passage < 0.5

"""The retrieval eval set is labelled against the real handbook corpus, so its links and spread must hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EVAL_SET = REPO_ROOT / "eval" / "handbook_retrieval.jsonl"
HANDBOOK_DIR = REPO_ROOT.parent / "shared" / "datasets" / "handbook-articles"


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    path = HANDBOOK_DIR / "ArticleDocument.json"
    if not path.exists():
        pytest.skip("../shared/datasets/handbook-articles is absent")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def queries() -> list[dict]:
    lines = EVAL_SET.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_every_record_has_the_expected_shape(queries: list[dict]) -> None:
    assert len(queries) >= 40
    for record in queries:
        assert set(record) == {"query", "relevant_links", "author", "note"}, record
        assert isinstance(record["query"], str) and record["query"].strip()
        assert record["relevant_links"] and all(isinstance(x, str) for x in record["relevant_links"])
        assert record["author"] is None or isinstance(record["author"], str)
        assert isinstance(record["note"], str) and record["note"].strip()
    texts = [r["query"].lower() for r in queries]
    assert len(set(texts)) == len(texts), "duplicate queries"


def test_every_relevant_link_is_in_the_corpus(queries: list[dict], articles: list[dict]) -> None:
    known = {a["link"] for a in articles}
    missing = [link for r in queries for link in r["relevant_links"] if link not in known]
    assert not missing


def test_queries_spread_over_articles_and_both_authors(queries: list[dict], articles: list[dict]) -> None:
    author_of = {a["link"]: a["author_full_name"] for a in articles}
    relevant = {link for r in queries for link in r["relevant_links"]}
    assert len(relevant) >= 30
    assert {author_of.get(link) for link in relevant} >= {"Maxime Labonne", "Paul Iusztin"}


def test_author_named_queries_point_at_that_authors_articles(
    queries: list[dict], articles: list[dict]
) -> None:
    author_of = {a["link"]: a["author_full_name"] for a in articles}
    authors = {a["author_full_name"] for a in articles}
    named = [r for r in queries if r["author"] is not None]
    assert len(named) >= 10
    for record in named:
        assert record["author"] in authors, record
        assert record["author"].lower() in record["query"].lower(), record
        assert all(author_of[link] == record["author"] for link in record["relevant_links"]), record
    for record in queries:
        if record["author"] is None:
            assert not any(name.lower() in record["query"].lower() for name in authors), record


def test_no_query_contains_an_article_title(queries: list[dict], articles: list[dict]) -> None:
    titles = {(a["content"].get("Title") or "").strip().lower() for a in articles} - {""}
    offenders = [(r["query"], t) for r in queries for t in titles if t in r["query"].lower()]
    assert not offenders

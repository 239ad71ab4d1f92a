"""Answer-level RAG evaluation: citation hit, grounded citations, length and latency figures."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from llm_engineering.application.rag.answerer import TwinAnswerer
from llm_engineering.application.rag.catalog import FeatureCatalog
from llm_engineering.application.rag.evaluation import EvalQuery
from llm_engineering.application.rag.evaluation_answers import (
    AnsweredQuestion,
    answer_questions,
    percentile,
    score,
)
from llm_engineering.domain.exceptions import InvalidRequest
from llm_engineering.domain.llm import ChatMessage, GenerationParams
from tests.unit.rag.fakes import ListRetriever, ScriptedLLM, hit

PAUL_STORES = "https://example.com/p1"
PAUL_RAG = "https://example.com/p2"
MAXIME = "https://example.com/m1"
#: what the scripted twin replies, by a word of the question
REPLIES = {
    "stores": "One store for training and serving [1].",  # cites the right article
    "rag": "Retrieve, then generate [1][2], see [7].",  # [7] was never given
    "merging": "Merge the weights with mergekit.",  # cites nothing
}


def twin() -> TwinAnswerer:
    def reply(messages: Sequence[ChatMessage]) -> str:
        question = messages[-1].content.split("Question:")[1].split("\n")[0]
        return next(text for word, text in REPLIES.items() if word in question.lower())

    corpus = [
        hit("Paul on feature stores: keep one store for training and serving.", document="p1", score=0.9),
        hit("Paul on RAG: retrieve, then generate.", document="p2", score=0.8),
        hit("Maxime on merging models with mergekit.", author="Maxime Labonne", document="m1", score=0.95),
    ]
    catalog = FeatureCatalog(authors=("Maxime Labonne", "Paul Iusztin"))
    return TwinAnswerer(ScriptedLLM(reply), ListRetriever(corpus), catalog=catalog)


QUESTIONS = [
    EvalQuery(query="What does Paul Iusztin say about feature stores?", relevant_links=[PAUL_STORES]),
    EvalQuery(query="How does Paul Iusztin describe RAG?", relevant_links=[PAUL_RAG]),
    EvalQuery(query="Model merging: how, says Maxime Labonne?", relevant_links=[MAXIME]),
]


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([1.0, 2.0], 0) == 1.0 and percentile([1.0, 2.0], 100) == 2.0


def test_each_answer_is_scored_on_what_it_cites() -> None:
    readings = iter([0.0, 0.010, 1.0, 1.030, 2.0, 2.050])  # answers take 10, 30 and 50 ms
    results = answer_questions(
        twin(), QUESTIONS, GenerationParams(max_tokens=32), clock=lambda: next(readings)
    )
    stores, rag, merging = results

    assert stores.given_links == [PAUL_STORES, PAUL_RAG]  # self-query kept Paul's articles only
    assert stores.cited_numbers == [1] and stores.citation_hit and stores.grounded
    assert rag.cited_numbers == [1, 2, 7] and rag.citation_hit and not rag.grounded  # [7] is invented
    assert rag.cited_links == {PAUL_STORES, PAUL_RAG}
    assert merging.cited_numbers == [] and not merging.citation_hit and not merging.grounded
    assert merging.source_hit and merging.given_links == [MAXIME]
    assert [r.latency_ms for r in results] == pytest.approx([10.0, 30.0, 50.0])
    assert all(r.rag_ms > 0 and r.completion_tokens > 0 and r.error is None for r in results)

    report = score(results)
    assert report.questions == 3 and report.failed == 0
    assert report.citation_hit_rate == pytest.approx(2 / 3)
    assert report.grounded_rate == pytest.approx(1 / 3)
    assert report.citing_rate == pytest.approx(2 / 3)
    assert report.source_hit_rate == 1.0
    assert report.answer_words_p50 == len(REPLIES["rag"].split())
    assert report.latency_p50_ms == pytest.approx(30.0)
    assert report.latency_p95_ms == pytest.approx(48.0)
    metrics = report.metrics()
    assert metrics["citation_hit_rate"] == 0.6667 and "results" not in metrics


def test_a_question_the_twin_refuses_counts_as_a_miss_and_the_run_goes_on() -> None:
    questions = [QUESTIONS[0], EvalQuery(query="   ", relevant_links=[PAUL_RAG])]
    results = answer_questions(twin(), questions, GenerationParams(max_tokens=32))
    assert results[0].error is None and results[0].citation_hit
    assert results[1].error is not None and results[1].error.startswith("InvalidRequest: the query is empty")
    report = score(results)
    assert report.failed == 1 and report.citation_hit_rate == 0.5 and report.source_hit_rate == 0.5
    assert report.latency_p95_ms == pytest.approx(results[0].latency_ms)  # of the answered ones


def test_when_every_question_fails_the_error_is_raised() -> None:
    with pytest.raises(InvalidRequest, match="the query is empty"):
        answer_questions(twin(), [EvalQuery(query=" ", relevant_links=[MAXIME])], GenerationParams())
    with pytest.raises(ValueError, match="empty"):
        score([])


def test_citations_to_sources_without_a_link_are_grounded_but_never_a_hit() -> None:
    result = AnsweredQuestion(query="q", relevant_links=[MAXIME], given_links=[None], cited_numbers=[1])
    assert result.grounded and not result.citation_hit and not result.source_hit

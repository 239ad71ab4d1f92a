"""The twin's answers to a labelled question set, end to end: citations, answer length, latency.

Each question is answered by the whole RAG chain (`TwinAnswerer.answer`) and scored on what the
answer cites, at document level (a source is an article, known by its link):

- **citation hit rate**: a relevant article is among the sources the answer cites;
- **grounded rate**: the answer cites at least one source and every number it cites is a source it
  was given (no invented [7] when five sources were given);
- **citing rate**: the answer cites anything at all;
- **source hit rate**: a relevant article is among the sources given to the model (what retrieval
  and the context budget allowed the answer to cite);
- **answer length** in words and completion tokens; **latency** p50/p95 of the whole answer and of
  the RAG stages before generation.

Rates are over every question: a question the twin failed to answer counts as a miss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from loguru import logger
from pydantic import BaseModel, Field
from tqdm import tqdm

from llm_engineering.application.rag.evaluation import EvalQuery
from llm_engineering.application.rag.prompt import cited_numbers
from llm_engineering.domain.exceptions import LLMTwinException
from llm_engineering.domain.llm import GenerationParams
from llm_engineering.domain.rag import Answer


class Answerer(Protocol):
    def answer(self, query: str, params: GenerationParams | None = None) -> Answer: ...


class AnsweredQuestion(BaseModel):
    """One question, what the twin answered and which sources it was given and cited."""

    query: str
    relevant_links: list[str]
    answer: str = ""
    #: the links of the sources given to the model, in source-number order ([1] is the first)
    given_links: list[str | None] = Field(default_factory=list)
    #: every number the answer cites, given or not, ascending
    cited_numbers: list[int] = Field(default_factory=list)
    completion_tokens: int = 0
    #: the whole answer, RAG and generation
    latency_ms: float = 0.0
    #: the RAG stages before generation (self-query, expansion, retrieval, rerank, prompt)
    rag_ms: float = 0.0
    #: why the twin could not answer (one line); None when it did
    error: str | None = None

    @property
    def cited_links(self) -> set[str]:
        return {
            link
            for n in self.cited_numbers
            if 1 <= n <= len(self.given_links) and (link := self.given_links[n - 1]) is not None
        }

    @property
    def citation_hit(self) -> bool:
        return bool(self.cited_links & set(self.relevant_links))

    @property
    def grounded(self) -> bool:
        return bool(self.cited_numbers) and all(1 <= n <= len(self.given_links) for n in self.cited_numbers)

    @property
    def source_hit(self) -> bool:
        return bool(set(self.given_links) & set(self.relevant_links))

    @property
    def words(self) -> int:
        return len(self.answer.split())


class AnswerEvalReport(BaseModel):
    questions: int
    failed: int
    citation_hit_rate: float
    grounded_rate: float
    citing_rate: float
    source_hit_rate: float
    answer_words_mean: float
    answer_words_p50: float
    completion_tokens_mean: float
    latency_p50_ms: float
    latency_p95_ms: float
    rag_p50_ms: float
    rag_p95_ms: float
    results: list[AnsweredQuestion] = Field(default_factory=list, repr=False)

    def metrics(self) -> dict[str, float]:
        """Every figure, rounded, for ZenML metadata and Opik."""
        return {
            k: round(float(v), 4)
            for k, v in self.model_dump(exclude={"results"}).items()
            if isinstance(v, int | float)
        }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linearly interpolated between the closest ranks; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def record(question: EvalQuery, answer: Answer, latency_ms: float) -> AnsweredQuestion:
    """What one answer is scored on."""
    sources = sorted(answer.sources, key=lambda s: s.number)
    return AnsweredQuestion(
        query=question.query,
        relevant_links=question.relevant_links,
        answer=answer.text,
        given_links=[s.link for s in sources],
        cited_numbers=sorted(cited_numbers(answer.text)),
        completion_tokens=answer.usage.completion_tokens,
        latency_ms=latency_ms,
        rag_ms=answer.timings.total_ms,
    )


def score(results: Sequence[AnsweredQuestion]) -> AnswerEvalReport:
    """The report over every question (failed ones count as misses; lengths and latencies are of
    the answered ones)."""
    n = len(results)
    if n == 0:
        raise ValueError("no answered questions to score: the question set is empty")
    answered = [r for r in results if r.error is None]

    def rate(flag: Callable[[AnsweredQuestion], bool]) -> float:
        return sum(1 for r in answered if flag(r)) / n

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    latencies = [r.latency_ms for r in answered]
    rag = [r.rag_ms for r in answered]
    words = [float(r.words) for r in answered]
    return AnswerEvalReport(
        questions=n,
        failed=n - len(answered),
        citation_hit_rate=rate(lambda r: r.citation_hit),
        grounded_rate=rate(lambda r: r.grounded),
        citing_rate=rate(lambda r: bool(r.cited_numbers)),
        source_hit_rate=rate(lambda r: r.source_hit),
        answer_words_mean=mean(words),
        answer_words_p50=percentile(words, 50),
        completion_tokens_mean=mean([float(r.completion_tokens) for r in answered]),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        rag_p50_ms=percentile(rag, 50),
        rag_p95_ms=percentile(rag, 95),
        results=list(results),
    )


def answer_questions(
    answerer: Answerer,
    questions: Sequence[EvalQuery],
    params: GenerationParams,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> list[AnsweredQuestion]:
    """Answer each question in turn (one at a time, so latencies are the twin's own).

    A question the twin refuses or cannot answer (a named error) is recorded with its error and
    the run goes on; when every question failed, the last error is raised.
    """
    results: list[AnsweredQuestion] = []
    last_error: LLMTwinException | None = None
    for question in tqdm(questions, desc="answering", unit="question", disable=None):
        started = clock()
        try:
            answer = answerer.answer(question.query, params)
        except LLMTwinException as exc:
            last_error = exc
            line = f"{type(exc).__name__}: {exc}".splitlines()[0]
            logger.warning("question {!r} was not answered: {}", question.query[:80], line)
            results.append(
                AnsweredQuestion(query=question.query, relevant_links=question.relevant_links, error=line)
            )
            continue
        results.append(record(question, answer, (clock() - started) * 1000))
    if results and last_error is not None and all(r.error is not None for r in results):
        raise last_error
    return results

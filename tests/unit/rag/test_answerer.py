from __future__ import annotations

import pytest

from llm_engineering.application.rag.answerer import TwinAnswerer
from llm_engineering.application.rag.catalog import FeatureCatalog
from llm_engineering.application.rag.config import ContextConfig, ExpansionConfig, RAGConfig, RerankConfig
from llm_engineering.application.rag.expansion import SEPARATOR
from llm_engineering.application.rag.rerank import LLMReranker
from llm_engineering.domain.exceptions import InvalidRequest, PromptTooLong
from llm_engineering.domain.llm import ChatMessage
from tests.unit.rag.fakes import ListRetriever, ScriptedLLM, hit

CATALOG = FeatureCatalog(authors=("Maxime Labonne", "Paul Iusztin"))


def corpus() -> list:
    return [
        hit("Paul on feature stores: keep one store for training and serving.", document="p1", score=0.9),
        hit("Paul on RAG: retrieve, then generate.", document="p2", score=0.8),
        hit("Maxime on merging models with mergekit.", author="Maxime Labonne", document="m1", score=0.95),
    ]


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def test_prepare_filters_on_the_author_and_numbers_the_sources() -> None:
    retriever = ListRetriever(corpus())
    answerer = TwinAnswerer(ScriptedLLM(), retriever, catalog=CATALOG)
    prepared = answerer.prepare(user("What does Paul's article say about feature stores?"))
    assert prepared.author_filter == "Paul Iusztin"
    assert retriever.calls[0][2] == "Paul Iusztin"
    assert [s.author_full_name for s in prepared.sources] == ["Paul Iusztin", "Paul Iusztin"]
    assert "[1]" in prepared.messages[-1].content and "[2]" in prepared.messages[-1].content
    assert prepared.prompt_tokens == ScriptedLLM().count_tokens(prepared.messages)
    assert prepared.timings.retrieval_ms > 0


def test_an_author_with_nothing_on_it_falls_back_to_everyone() -> None:
    retriever = ListRetriever([hit("only Maxime here", author="Maxime Labonne")])
    prepared = TwinAnswerer(ScriptedLLM(), retriever, catalog=CATALOG).prepare(user("Paul Iusztin on LoRA?"))
    assert prepared.author_filter is None
    assert [c[2] for c in retriever.calls] == ["Paul Iusztin", None]
    assert len(prepared.sources) == 1


def test_answer_marks_the_sources_it_cites() -> None:
    config = RAGConfig(context=ContextConfig(max_sources=3, max_context_tokens=1000))
    answerer = TwinAnswerer(
        ScriptedLLM("Keep one store [2]."), ListRetriever(corpus()), config=config, catalog=CATALOG
    )
    answer = answerer.answer("How should I store features?")
    assert answer.text == "Keep one store [2]."
    assert [s.cited for s in answer.sources] == [False, True, False]
    assert answer.usage.completion_tokens == 4


def test_context_is_cut_to_the_window() -> None:
    big = [hit(f"word{i} " * 300, document=f"d{i}", score=1 - i / 10) for i in range(5)]
    llm = ScriptedLLM(context_window=1000)
    prepared = TwinAnswerer(
        llm, ListRetriever(big), config=RAGConfig(context=ContextConfig(max_context_tokens=None))
    ).prepare(user("q"), max_tokens=200)
    assert len(prepared.sources) == 2  # 300 words each: only two fit in ~800 tokens
    assert prepared.prompt_tokens + 200 <= 1000


def test_a_conversation_too_long_for_the_window_is_refused() -> None:
    answerer = TwinAnswerer(ScriptedLLM(context_window=300), ListRetriever(corpus()))
    with pytest.raises(PromptTooLong, match="window of 300"):
        answerer.prepare(user("word " * 200), max_tokens=100)


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ([], "empty"),
        ([ChatMessage(role="user", content="hi"), ChatMessage(role="assistant", content="yo")], "end with"),
        ([ChatMessage(role="user", content="  ")], "empty"),
    ],
)
def test_bad_conversations_are_refused(messages: list[ChatMessage], problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        TwinAnswerer(ScriptedLLM(), ListRetriever(corpus())).prepare(messages)


def test_expansion_and_llm_rerank_run_when_configured() -> None:
    def reply(messages: list[ChatMessage]) -> str:
        prompt = messages[-1].content
        if SEPARATOR in prompt:
            return f"how to merge models{SEPARATOR}model merging"
        if "Rank the passages" in prompt:
            return "3, 2, 1"
        return "ok [1]"

    llm = ScriptedLLM(reply)
    retriever = ListRetriever(corpus())
    config = RAGConfig(expansion=ExpansionConfig(enabled=True, n=2), rerank=RerankConfig(method="llm"))
    answerer = TwinAnswerer(llm, retriever, config=config, reranker=LLMReranker(llm))
    prepared = answerer.prepare(user("merging?"))
    assert [c[0] for c in retriever.calls] == ["merging?", "how to merge models", "model merging"]
    assert prepared.expanded_queries == ["how to merge models", "model merging"]
    assert prepared.timings.expansion_ms > 0 and prepared.timings.rerank_ms > 0
    # all three rankings agree (same list): RRF keeps Maxime first; the reranker puts the third first
    assert prepared.sources[0].content.startswith("Paul on RAG")


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="model_path"):
        RerankConfig(method="cross-encoder")
    with pytest.raises(ValueError):
        RAGConfig.model_validate({"retrieval": {"mode": "sparse"}})
    with pytest.raises(ValueError):
        RAGConfig.model_validate({"surprise": 1})

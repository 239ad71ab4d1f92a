from __future__ import annotations

from llm_engineering.application.rag.expansion import (
    SEPARATOR,
    QueryExpander,
    parse_rewrites,
    reciprocal_rank_fusion,
)
from llm_engineering.application.rag.rerank import LLMReranker, parse_order
from tests.unit.rag.fakes import ScriptedLLM, hit


def test_rewrites_are_parsed_deduplicated_and_capped() -> None:
    reply = f"1. How do I use LoRA? {SEPARATOR} 2) what is lora fine-tuning {SEPARATOR} how do I use lora?"
    assert parse_rewrites(reply, "question", 3) == ["How do I use LoRA?", "what is lora fine-tuning"]
    assert parse_rewrites("- one\n- two\n- three", "q", 2) == ["one", "two"]


def test_the_expander_asks_the_llm_and_puts_the_question_first() -> None:
    llm = ScriptedLLM(f"rewrite one{SEPARATOR}rewrite two")
    assert QueryExpander(llm, n=2).expand("original?") == ["original?", "rewrite one", "rewrite two"]
    assert "original?" in llm.calls[0][0].content


def test_rrf_rewards_agreement_between_rankings() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "b", "d"], ["b"]], key=lambda x: x, k=60)
    order = [item for item, _ in fused]
    assert order[0] == "b" and set(order) == {"a", "b", "c", "d"}
    assert fused[0][1] > fused[1][1]


def test_llm_rerank_follows_the_reply_and_keeps_the_rest() -> None:
    hits = [hit(f"passage {i}", document=f"d{i}", score=1.0) for i in range(4)]
    reranked = LLMReranker(ScriptedLLM("3, 1, 9, 3")).rerank("q", hits)
    assert [h.content for h in reranked] == ["passage 2", "passage 0", "passage 1", "passage 3"]
    assert [h.score for h in reranked] == sorted((h.score for h in reranked), reverse=True)
    assert parse_order("none of them", 3) == []

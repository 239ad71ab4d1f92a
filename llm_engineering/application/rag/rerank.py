"""Rerankers that need nothing but the ports: none (keep retrieval's order) and an LLM judge.

A cross-encoder reranker (a model folder) lives in `infrastructure/rerank/`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llm_engineering.application.ports import LLMClient
from llm_engineering.domain.features import RetrievalHit
from llm_engineering.domain.llm import ChatMessage, GenerationParams


class NoReranker:
    """Retrieval's order as it is (the offline default: nothing measured better on our eval set)."""

    name = "none"

    def rerank(self, query: str, hits: Sequence[RetrievalHit]) -> list[RetrievalHit]:
        return list(hits)


LLM_RERANK_PROMPT = (
    "Rank the passages below by how well they help answer the question, most useful first.\n"
    "Answer with the passage numbers only, comma separated (for example: 3, 1, 2).\n\n"
    "Question: {question}\n\n{passages}"
)


class LLMReranker:
    """Asks the LLM for an order of the passages; passages it leaves out keep their order, after."""

    name = "llm"

    def __init__(self, llm: LLMClient, *, passage_chars: int = 600) -> None:
        self.llm = llm
        self.passage_chars = passage_chars

    def rerank(self, query: str, hits: Sequence[RetrievalHit]) -> list[RetrievalHit]:
        if len(hits) < 2:
            return list(hits)
        passages = "\n\n".join(
            f"[{i}] {' '.join(h.content.split())[: self.passage_chars]}" for i, h in enumerate(hits, 1)
        )
        reply = self.llm.complete(
            [ChatMessage(role="user", content=LLM_RERANK_PROMPT.format(question=query, passages=passages))],
            GenerationParams(max_tokens=4 * len(hits) + 8),
        ).text
        order = parse_order(reply, len(hits))
        ranked = [hits[i - 1] for i in order]
        ranked += [h for i, h in enumerate(hits, 1) if i not in set(order)]
        total = len(ranked)
        return [h.model_copy(update={"score": float(total - rank)}) for rank, h in enumerate(ranked)]


def parse_order(reply: str, count: int) -> list[int]:
    """Distinct passage numbers in 1..count, in the order the reply gives them."""
    out: list[int] = []
    for token in re.findall(r"\d+", reply):
        number = int(token)
        if 1 <= number <= count and number not in out:
            out.append(number)
    return out

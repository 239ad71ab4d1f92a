"""Query expansion: n rewrites of the question through the LLM; their results fused with RRF."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from llm_engineering.application.ports import LLMClient
from llm_engineering.domain.llm import ChatMessage, GenerationParams

T = TypeVar("T")

SEPARATOR = "#next-question#"

#: the reference's query-expansion prompt (LLM Engineer's Handbook, `QueryExpansionTemplate`)
EXPANSION_PROMPT = (
    "You are an AI language model assistant. Your task is to generate {n} different versions of "
    "the given user question to retrieve relevant documents from a vector database. By generating "
    "multiple perspectives on the user question, your goal is to help the user overcome some of the "
    "limitations of the distance-based similarity search.\n"
    "Provide these alternative questions separated by '{separator}'.\n"
    "Original question: {question}"
)

_NUMBERING = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*")


class QueryExpander:
    def __init__(self, llm: LLMClient, n: int = 3) -> None:
        self.llm = llm
        self.n = n

    def expand(self, question: str) -> list[str]:
        """The question itself first, then up to n distinct rewrites."""
        prompt = EXPANSION_PROMPT.format(n=self.n, separator=SEPARATOR, question=question)
        reply = self.llm.complete(
            [ChatMessage(role="user", content=prompt)], GenerationParams(max_tokens=64 * self.n)
        ).text
        return [question, *parse_rewrites(reply, question, self.n)]


def parse_rewrites(reply: str, question: str, n: int) -> list[str]:
    pieces = reply.split(SEPARATOR) if SEPARATOR in reply else reply.splitlines()
    seen = {question.strip().casefold()}
    out: list[str] = []
    for piece in pieces:
        text = _NUMBERING.sub("", piece).strip().strip('"').strip()
        if len(text) < 3 or text.casefold() in seen:
            continue
        seen.add(text.casefold())
        out.append(text)
        if len(out) == n:
            break
    return out


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[T]], key: Callable[[T], Hashable], *, k: int = 60
) -> list[tuple[T, float]]:
    """Items of several best-first rankings, ordered by sum(1 / (k + rank)); ties keep first-seen order."""
    scores: dict[Hashable, float] = {}
    items: dict[Hashable, T] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            ident = key(item)
            scores[ident] = scores.get(ident, 0.0) + 1.0 / (k + rank)
            items.setdefault(ident, item)
    order = sorted(scores, key=lambda ident: scores[ident], reverse=True)
    return [(items[ident], scores[ident]) for ident in order]

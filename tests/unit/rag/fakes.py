"""Test doubles for the RAG unit tests: a deterministic LLM and an in-memory retriever.

The LLM is a double because the unit tests check what the RAG chain sends and does with replies;
the integration tests (tests/integration/api) run a real tiny transformers model instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence

from llm_engineering.domain.features import RetrievalHit
from llm_engineering.domain.llm import ChatMessage, Completion, CompletionDelta, GenerationParams, TokenUsage
from llm_engineering.domain.types import DataCategory


class ScriptedLLM:
    """Counts a token per whitespace-separated word (+4 per message); replies with `reply(messages)`."""

    def __init__(
        self,
        reply: Callable[[Sequence[ChatMessage]], str] | str = "Answer [1].",
        *,
        context_window: int = 2048,
        model_name: str = "scripted",
    ) -> None:
        self._reply = reply if callable(reply) else (lambda _messages: reply)
        self.context_window = context_window
        self.model_name = model_name
        self.calls: list[list[ChatMessage]] = []
        self.closed_streams = 0

    def warm_up(self) -> None:
        pass

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(4 + len(m.content.split()) for m in messages)

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        self.calls.append(list(messages))
        text = self._reply(messages)
        words = text.split(" ")[: params.max_tokens]
        return Completion(
            text=" ".join(words),
            finish_reason="stop",
            usage=TokenUsage(prompt_tokens=self.count_tokens(messages), completion_tokens=len(words)),
            model=self.model_name,
        )

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        done = self.complete(messages, params)
        try:
            for i, word in enumerate(done.text.split(" ")):
                yield CompletionDelta(text=word if i == 0 else " " + word)
            yield CompletionDelta(finish_reason="stop", usage=done.usage)
        finally:
            self.closed_streams += 1

    def close(self) -> None:
        pass


AUTHOR_IDS: dict[str, uuid.UUID] = {}


def hit(
    content: str,
    *,
    author: str = "Paul Iusztin",
    document: str = "doc-a",
    chunk_index: int = 0,
    score: float = 1.0,
    link: str | None = None,
) -> RetrievalHit:
    doc_id = uuid.uuid5(uuid.NAMESPACE_URL, document)
    return RetrievalHit(
        chunk_id=uuid.uuid5(doc_id, f"{chunk_index}:{content}"),
        score=score,
        content=content,
        link=link or f"https://example.com/{document}",
        author_full_name=author,
        author_id=AUTHOR_IDS.setdefault(author, uuid.uuid5(uuid.NAMESPACE_DNS, author)),
        category=DataCategory.ARTICLES,
        document_id=doc_id,
        chunk_index=chunk_index,
    )


class ListRetriever:
    """Returns stored hits best first, filtered by author like the real one; records each call."""

    def __init__(self, hits: list[RetrievalHit]) -> None:
        self.hits = hits
        self.calls: list[tuple[str, int, str | None]] = []

    def retrieve(self, query: str, k: int = 5, *, author_full_name: str | None = None) -> list[RetrievalHit]:
        self.calls.append((query, k, author_full_name))
        found = [h for h in self.hits if author_full_name in (None, h.author_full_name)]
        return sorted(found, key=lambda h: h.score, reverse=True)[:k]

"""The twin's RAG use case: a conversation in, a prompt with numbered sources out, then the answer.

`prepare()` does everything before generation (self-query, expansion, retrieval, rerank, context
within the token budget, prompt), so a caller can stream the generation itself; `answer()` does
the whole round trip. Every stage is optional and set by `RAGConfig`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from loguru import logger

from llm_engineering.application.ports import LLMClient, Reranker
from llm_engineering.application.rag.catalog import FeatureCatalog
from llm_engineering.application.rag.config import RAGConfig
from llm_engineering.application.rag.context import fit_sources
from llm_engineering.application.rag.expansion import QueryExpander, reciprocal_rank_fusion
from llm_engineering.application.rag.prompt import build_messages, mark_cited
from llm_engineering.application.rag.rerank import NoReranker
from llm_engineering.application.rag.self_query import FuzzyAuthorMatcher, SelfQuery
from llm_engineering.domain.exceptions import InvalidRequest, PromptTooLong
from llm_engineering.domain.features import RetrievalHit
from llm_engineering.domain.llm import ChatMessage, GenerationParams
from llm_engineering.domain.rag import Answer, PreparedPrompt, Source, StageTimings


class Retriever(Protocol):
    def retrieve(
        self, query: str, k: int = 5, *, author_full_name: str | None = None
    ) -> list[RetrievalHit]: ...


class CatalogSource(Protocol):
    def current(self) -> FeatureCatalog: ...


class _Static:
    def __init__(self, catalog: FeatureCatalog) -> None:
        self._catalog = catalog

    def current(self) -> FeatureCatalog:
        return self._catalog


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = (time.perf_counter() - started) * 1000


def validate_conversation(messages: Sequence[ChatMessage]) -> None:
    if not messages:
        raise InvalidRequest("messages is empty: send at least one user message", param="messages")
    if messages[-1].role != "user":
        raise InvalidRequest(
            f"the last message has role {messages[-1].role!r}: the conversation must end with a user message",
            param="messages",
        )
    if not messages[-1].content.strip():
        raise InvalidRequest("the last user message is empty: ask a question", param="messages")


class TwinAnswerer:
    """Answers as the twin, from the feature store, with numbered sources."""

    def __init__(
        self,
        llm: LLMClient,
        retriever: Retriever,
        *,
        config: RAGConfig | None = None,
        catalog: CatalogSource | FeatureCatalog | None = None,
        reranker: Reranker | None = None,
        twin_name: str = "llm-twin",
    ) -> None:
        self.llm = llm
        self.retriever = retriever
        self.config = config or RAGConfig()
        if catalog is None or isinstance(catalog, FeatureCatalog):
            catalog = _Static(catalog or FeatureCatalog())
        self.catalog: CatalogSource = catalog
        self.reranker: Reranker = reranker or NoReranker()
        self.twin_name = twin_name
        sq = self.config.self_query
        self._self_query = SelfQuery(FuzzyAuthorMatcher(sq.min_score), llm if sq.method == "llm" else None)
        self._expander = (
            QueryExpander(llm, self.config.expansion.n) if self.config.expansion.enabled else None
        )

    # --- before generation ------------------------------------------------------------------

    def prepare(self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None) -> PreparedPrompt:
        """The prompt for the last user message, with its sources; raises InvalidRequest on bad input."""
        validate_conversation(messages)
        cfg = self.config
        query = messages[-1].content.strip()
        answer_tokens = max_tokens or cfg.answer_tokens
        timings: dict[str, float] = {}

        # the conversation alone must leave room for the answer, whatever the context
        bare = build_messages(messages, [], twin_name=self.twin_name)
        base_tokens = self.llm.count_tokens(bare)
        window = self.llm.context_window
        if base_tokens + answer_tokens > window:
            raise PromptTooLong(
                f"the conversation takes {base_tokens} tokens and the answer {answer_tokens}, over the "
                f"model's window of {window}: shorten the messages or lower max_tokens",
                param="messages",
            )

        catalog = self.catalog.current()
        author = None
        if cfg.self_query.enabled:
            with _timed(timings, "self_query_ms"):
                author = self._self_query.author_for(query, catalog.authors)

        queries = [query]
        if self._expander is not None:
            with _timed(timings, "expansion_ms"):
                queries = self._expander.expand(query)

        with _timed(timings, "retrieval_ms"):
            hits = self._retrieve(queries, author)
            if author and not hits:  # the author has nothing on it: search everyone rather than nothing
                author = None
                hits = self._retrieve(queries, None)

        if hits and self.reranker.name != "none":
            with _timed(timings, "rerank_ms"):
                hits = self.reranker.rerank(query, hits)

        with _timed(timings, "prompt_ms"):
            budget = window - answer_tokens - base_tokens
            if cfg.context.max_context_tokens is not None:
                budget = min(budget, cfg.context.max_context_tokens)
            sources = fit_sources(
                hits,
                token_cost=self._token_cost(),
                budget=budget,
                max_sources=cfg.context.max_sources,
                titles=catalog.title,
                near_duplicate_ratio=cfg.context.near_duplicate_ratio,
            )
            prompt = build_messages(messages, sources, twin_name=self.twin_name)
            prompt_tokens = self.llm.count_tokens(prompt)
        logger.debug(
            "rag: author={} queries={} hits={} sources={} prompt_tokens={}",
            author,
            len(queries),
            len(hits),
            len(sources),
            prompt_tokens,
        )
        return PreparedPrompt(
            messages=prompt,
            sources=sources,
            query=query,
            author_filter=author,
            expanded_queries=queries[1:],
            prompt_tokens=prompt_tokens,
            timings=StageTimings(**timings),
        )

    def _retrieve(self, queries: list[str], author: str | None) -> list[RetrievalHit]:
        k = self.config.retrieval.candidates
        rankings = [self.retriever.retrieve(q, k, author_full_name=author) for q in queries]
        if len(rankings) == 1:
            return rankings[0]
        fused = reciprocal_rank_fusion(rankings, key=lambda h: h.chunk_id, k=self.config.expansion.rrf_k)
        return [hit.model_copy(update={"score": score}) for hit, score in fused[:k]]

    def _token_cost(self) -> Callable[[str], int]:
        empty = self.llm.count_tokens([ChatMessage(role="user", content="")])

        def cost(text: str) -> int:
            return max(1, self.llm.count_tokens([ChatMessage(role="user", content=text)]) - empty)

        return cost

    # --- after generation -------------------------------------------------------------------

    @staticmethod
    def finish(prepared: PreparedPrompt, answer_text: str) -> list[Source]:
        """The prepared sources, each marked `cited` when the answer cites its number."""
        return mark_cited(prepared.sources, answer_text)

    def answer(self, query: str, params: GenerationParams | None = None) -> Answer:
        """One question, answered whole (no streaming)."""
        if not query or not query.strip():
            raise InvalidRequest("the query is empty: ask a question", param="query")
        params = params or GenerationParams(max_tokens=self.config.answer_tokens)
        prepared = self.prepare([ChatMessage(role="user", content=query)], max_tokens=params.max_tokens)
        completion = self.llm.complete(prepared.messages, params)
        return Answer(
            text=completion.text,
            sources=self.finish(prepared, completion.text),
            usage=completion.usage,
            finish_reason=completion.finish_reason,
            author_filter=prepared.author_filter,
            timings=prepared.timings,
        )

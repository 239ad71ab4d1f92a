"""The twin's RAG use case: a conversation in, a prompt with numbered sources out, then the answer.

`prepare()` does everything before generation (self-query, expansion, retrieval, rerank, context
within the token budget, prompt), so a caller can stream the generation itself; `answer()` does
the whole round trip. Every stage is optional and set by `RAGConfig`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from loguru import logger

from llm_engineering.application.ports import LLMClient, RequestTrace, Reranker, Tracer
from llm_engineering.application.rag.catalog import FeatureCatalog
from llm_engineering.application.rag.config import RAGConfig
from llm_engineering.application.rag.context import fit_sources
from llm_engineering.application.rag.expansion import QueryExpander, reciprocal_rank_fusion
from llm_engineering.application.rag.prompt import build_messages, mark_cited
from llm_engineering.application.rag.rerank import NoReranker
from llm_engineering.application.rag.self_query import FuzzyAuthorMatcher, SelfQuery
from llm_engineering.application.tracing import NULL_TRACE, NullTracer, error_line, generation_span, stage
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
        tracer: Tracer | None = None,
    ) -> None:
        self.llm = llm
        self.tracer: Tracer = tracer or NullTracer()
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

    def start_trace(self, messages: Sequence[ChatMessage], *, name: str = "chat") -> RequestTrace:
        """One trace for one request (the tracer's no-op one when tracing is off)."""
        if not self.tracer.enabled:
            return NULL_TRACE
        question = messages[-1].content if messages else ""
        return self.tracer.start_trace(
            name,
            input={"question": question, "turns": len(messages)},
            metadata={"twin": self.twin_name, "model": self.llm.model_name},
        )

    def prepare(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        trace: RequestTrace | None = None,
    ) -> PreparedPrompt:
        """The prompt for the last user message, with its sources; raises InvalidRequest on bad input.

        With `trace`, each stage is a span of it (self_query, expansion, retrieval, rerank, prompt).
        """
        validate_conversation(messages)
        trace = trace or NULL_TRACE
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
            with stage(trace, "self_query", timings, input={"query": query}) as span:
                author = self._self_query.author_for(query, catalog.authors)
                span.output = {"author": author, "method": cfg.self_query.method}

        queries = [query]
        if self._expander is not None:
            with stage(trace, "expansion", timings, input={"query": query}) as span:
                queries = self._expander.expand(query)
                span.output = {"queries": queries[1:]}

        retrieval_input = {"queries": queries, "author": author, "mode": cfg.retrieval.mode}
        with stage(trace, "retrieval", timings, input=retrieval_input, kind="tool") as span:
            hits = self._retrieve(queries, author)
            if author and not hits:  # the author has nothing on it: search everyone rather than nothing
                author = None
                hits = self._retrieve(queries, None)
            span.output = {"author_filter": author, "hits": _hit_summary(hits)}

        if hits and self.reranker.name != "none":
            with stage(trace, "rerank", timings, input={"query": query, "hits": len(hits)}) as span:
                hits = self.reranker.rerank(query, hits)
                span.output = {"method": self.reranker.name, "hits": _hit_summary(hits)}

        with stage(
            trace, "prompt", timings, input={"hits": len(hits), "answer_tokens": answer_tokens}
        ) as span:
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
            span.output = {
                "prompt_tokens": prompt_tokens,
                "sources": [{"number": s.number, "link": s.link, "title": s.title} for s in sources],
            }
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
        messages = [ChatMessage(role="user", content=query)]
        trace = self.start_trace(messages, name="rag")
        try:
            prepared = self.prepare(messages, max_tokens=params.max_tokens, trace=trace)
            generation = generation_span(trace, self.llm.model_name, prepared.messages, params)
            try:
                completion = self.llm.complete(prepared.messages, params)
            except Exception as exc:
                generation.end(error=error_line(exc))
                raise
            generation.end(
                {"text": completion.text, "finish_reason": completion.finish_reason},
                usage=completion.usage,
                model=completion.model or self.llm.model_name,
            )
        except Exception as exc:
            trace.end(error=error_line(exc))
            raise
        sources = self.finish(prepared, completion.text)
        trace.end(trace_output(completion.text, sources))
        return Answer(
            text=completion.text,
            sources=sources,
            usage=completion.usage,
            finish_reason=completion.finish_reason,
            author_filter=prepared.author_filter,
            timings=prepared.timings,
        )


def _hit_summary(hits: Sequence[RetrievalHit]) -> list[dict[str, Any]]:
    return [{"link": h.link, "chunk": h.chunk_index, "score": round(h.score, 4)} for h in hits]


def trace_output(answer: str, sources: Sequence[Source]) -> dict[str, Any]:
    """What a request's trace ends with: the answer and the sources it cites."""
    return {"answer": answer, "cited": [s.number for s in sources if s.cited], "sources": len(sources)}

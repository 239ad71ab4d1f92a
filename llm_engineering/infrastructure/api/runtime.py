"""Everything the twin needs to answer, built once per process: vector reader, embedder, LLM, RAG.

`build_runtime` is the service's start-up; `answer_once` is the same chain for one question
(the demo's last step), closed afterwards.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from llm_engineering.application.ports import LLMClient
from llm_engineering.application.rag.answerer import TwinAnswerer
from llm_engineering.application.rag.catalog import LiveCatalog
from llm_engineering.domain.llm import GenerationParams
from llm_engineering.domain.rag import Answer
from llm_engineering.infrastructure.api.config import InferenceConfig
from llm_engineering.settings import Settings


@dataclass
class TwinRuntime:
    llm: LLMClient
    answerer: TwinAnswerer
    catalog: LiveCatalog
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)

    def close(self) -> None:
        self._stack.close()


def build_runtime(
    settings: Settings, config: InferenceConfig, *, llm: LLMClient | None = None, embedder: Any = None
) -> TwinRuntime:
    """Open the vector reader, load the embedder, the reranker and the LLM (unless given): all warm.

    The LLM is `LLM_BACKEND`'s: locally the production twin from the model registry if one was
    promoted, else the base model.
    """
    from llm_engineering import bootstrap
    from llm_engineering.application.rag.retriever import ContextRetriever
    from llm_engineering.infrastructure.rerank.cross_encoder import build_reranker
    from llm_engineering.infrastructure.tracing.opik import build_tracer

    services = bootstrap.build_services(settings, llm=llm, embedder=embedder)
    stack = ExitStack()
    stack.callback(services.close)  # closes the LLM only if it built it
    try:
        index = stack.enter_context(services.vector_reader())
        services.embedder.warm_up()
        sparse: Any = None
        if config.rag.retrieval.mode == "hybrid":
            sparse = services.sparse_encoder
            warm = getattr(sparse, "warm_up", None)
            if callable(warm):
                warm()
        model = services.llm
        model.warm_up()
        reranker = build_reranker(config.rag.rerank, model)
        warm = getattr(reranker, "warm_up", None)
        if callable(warm):
            warm()
        tracer = build_tracer(settings)  # Opik when configured, else a no-op
        tracer.warm_up()
        stack.callback(tracer.close)
        catalog = LiveCatalog(index)
        known = catalog.current()
        answerer = TwinAnswerer(
            model,
            ContextRetriever(index, services.embedder, sparse),
            config=config.rag,
            catalog=catalog,
            reranker=reranker,
            twin_name=config.service.twin_name,
            tracer=tracer,
        )
    except BaseException:
        stack.close()
        raise
    logger.info(
        "twin ready: model {} (window {}), {} authors, {} retrieval, rerank {}",
        model.model_name,
        model.context_window,
        len(known.authors),
        config.rag.retrieval.mode,
        reranker.name,
    )
    return TwinRuntime(llm=model, answerer=answerer, catalog=catalog, _stack=stack)


def answer_once(
    settings: Settings,
    question: str,
    *,
    config: InferenceConfig | None = None,
    llm: LLMClient | None = None,
    embedder: Any = None,
    max_tokens: int | None = None,
) -> Answer:
    """Answer one question with sources, from the current feature release (the demo's last step)."""
    if config is None:
        from llm_engineering.infrastructure.api.config import load_inference_config

        config = load_inference_config(settings.INFERENCE_CONFIG)
    runtime = build_runtime(settings, config, llm=llm, embedder=embedder)
    try:
        params = GenerationParams(max_tokens=max_tokens or config.service.default_max_tokens)
        return runtime.answerer.answer(question, params)
    finally:
        runtime.close()

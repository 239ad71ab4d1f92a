"""Wiring, done once at the edge: real adapters by default, fakes on request.

`build_services(settings, **overrides)` gives one typed `Services`. Each adapter is built on
first use (nothing connects or loads at construction), and an override replaces it: tests pass
`documents=InMemoryDocumentRepository()` or `embedder=HashingEmbedder()` from `tests/fakes.py`.
`close()` closes what `Services` built itself, never what it was given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawling import PoolSizes
from llm_engineering.application.ports import (
    Chunker,
    DocumentRepository,
    ExperimentTracker,
    LLMClient,
    ModelRegistry,
    SparseEncoder,
    VectorIndex,
    VectorReader,
)
from llm_engineering.domain.types import DataCategory
from llm_engineering.settings import Settings

if TYPE_CHECKING:
    from llm_engineering.infrastructure.models.embedder import SentenceEmbedder


@dataclass
class CrawlServices:
    dispatcher: CrawlerDispatcher
    repository: DocumentRepository
    pools: PoolSizes
    context: CrawlContext


class Services:
    """Every adapter a run may need, each built lazily from the settings unless given."""

    #: what `build_services` accepts as overrides
    OVERRIDABLE = ("documents", "embedder", "sparse_encoder", "llm", "registry", "tracker")

    def __init__(self, settings: Settings, **overrides: Any) -> None:
        unknown = set(overrides) - set(self.OVERRIDABLE)
        if unknown:
            raise TypeError(f"unknown service overrides {sorted(unknown)}; use {self.OVERRIDABLE}")
        self.settings = settings
        self._given = {name for name, value in overrides.items() if value is not None}
        for name in self._given:
            self.__dict__[name] = overrides[name]  # what cached_property would have built

    # --- stores ----------------------------------------------------------------------------
    @cached_property
    def documents(self) -> DocumentRepository:
        """The data warehouse (MongoDB server, or embedded litemongo under DATA_DIR)."""
        from llm_engineering.infrastructure.db.mongo import connect_warehouse

        return connect_warehouse(self.settings)

    @contextmanager
    def vector_reader(self) -> Iterator[VectorReader]:
        """The vector DB as published for readers; `refresh()` switches to newer releases."""
        from llm_engineering.infrastructure.db.vector_factory import connect_vector_index

        index = connect_vector_index(self.settings, mode="reader")
        try:
            yield index
        finally:
            index.close()

    @contextmanager
    def vector_writer(self) -> Iterator[VectorIndex]:
        """The vector DB's work copy, for the one writer process; `publish()` shows it to readers."""
        from llm_engineering.infrastructure.db.vector_factory import connect_vector_index

        index = connect_vector_index(self.settings, mode="writer")
        try:
            yield index
        finally:
            index.close()

    # --- models ----------------------------------------------------------------------------
    @cached_property
    def embedder(self) -> SentenceEmbedder:
        """The configured embedder; cheap until first used (the model loads in `warm_up`)."""
        from llm_engineering.infrastructure.models.embedder import EmbeddingConfig, SentenceEmbedder

        return SentenceEmbedder(EmbeddingConfig.from_settings(self.settings))

    @cached_property
    def sparse_encoder(self) -> SparseEncoder:
        from llm_engineering.infrastructure.models.sparse import Bm25SparseEncoder

        return Bm25SparseEncoder()

    def chunkers(self) -> dict[DataCategory, Chunker]:
        """One chunker per category, sized to the embedder's own tokenizer and sequence limit."""
        from llm_engineering.application.preprocessing.chunking import TokenChunker, default_chunking_configs

        embedder = self.embedder
        configs = default_chunking_configs(embedder.max_seq_length, self.settings.CHUNK_OVERLAP_TOKENS)
        return dict.fromkeys(configs, TokenChunker(embedder.tokenizer, configs))

    @cached_property
    def registry(self) -> ModelRegistry:
        from llm_engineering.infrastructure.registry import build_registry

        return build_registry(self.settings)

    @cached_property
    def llm(self) -> LLMClient:
        """The twin's LLM (`LLM_BACKEND`): the production twin if one is registered, else the base."""
        from llm_engineering.infrastructure.llm.factory import build_llm

        return build_llm(self.settings, self.registry)

    @cached_property
    def tracker(self) -> ExperimentTracker:
        from llm_engineering.infrastructure.tracking.comet import build_tracker

        return build_tracker(self.settings)

    # --- crawling --------------------------------------------------------------------------
    @contextmanager
    def crawl(
        self,
        *,
        domain_map: Mapping[str, str] | None = None,
        options: dict[str, dict] | None = None,
        transport: Any = None,
    ) -> Iterator[CrawlServices]:
        """Everything a crawl run needs; the HTTP client and browsers are closed afterwards."""
        from llm_engineering.infrastructure.browser.chrome import ChromeBrowserProvider
        from llm_engineering.infrastructure.http.fetcher import HttpFetcher
        from llm_engineering.infrastructure.http.politeness import DomainLimiter

        settings = self.settings
        limiter = DomainLimiter(settings.CRAWL_PER_DOMAIN_CONCURRENCY, settings.CRAWL_DOMAIN_DELAY)
        http = HttpFetcher(settings, limiter, transport=transport)
        browsers = ChromeBrowserProvider(settings)
        context = CrawlContext(
            settings=settings, http=http, limiter=limiter, browsers=browsers, options=options or {}
        )
        pools = PoolSizes(
            http_workers=settings.CRAWL_HTTP_WORKERS,
            browser_workers=settings.CRAWL_BROWSER_WORKERS,
            link_timeout=settings.CRAWL_LINK_TIMEOUT,
        )
        try:
            yield CrawlServices(
                dispatcher=CrawlerDispatcher(context, {**settings.CRAWL_DOMAIN_MAP, **(domain_map or {})}),
                repository=self.documents,
                pools=pools,
                context=context,
            )
        finally:
            browsers.close_all()
            http.close()

    # --- lifetime --------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connections and models this object built (not the ones it was given)."""
        for name in ("llm", "documents"):
            if name in self.__dict__ and name not in self._given:
                self.__dict__.pop(name).close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def build_services(settings: Settings, **overrides: Any) -> Services:
    """The services of one process or step, real unless overridden (see `Services.OVERRIDABLE`)."""
    return Services(settings, **overrides)


# --- shorthands used across steps, tools and tests ------------------------------------------------


def connect_warehouse(settings: Settings) -> DocumentRepository:
    """The warehouse alone, for a caller that closes it itself."""
    return Services(settings).documents


def build_embedder(settings: Settings) -> SentenceEmbedder:
    return Services(settings).embedder


def build_chunkers(settings: Settings, embedder: SentenceEmbedder) -> dict[DataCategory, Chunker]:
    return Services(settings, embedder=embedder).chunkers()


@contextmanager
def crawl_services(
    settings: Settings,
    *,
    repository: DocumentRepository | None = None,
    domain_map: Mapping[str, str] | None = None,
    options: dict[str, dict] | None = None,
    transport: Any = None,
) -> Iterator[CrawlServices]:
    """Everything a crawl run needs, closed afterwards (HTTP client, browsers, own warehouse)."""
    with (
        Services(settings, documents=repository) as services,
        services.crawl(domain_map=domain_map, options=options, transport=transport) as crawl,
    ):
        yield crawl


__all__ = ["CrawlServices", "Services", "VectorIndex", "VectorReader", "build_services"]

"""Wiring, done once at the edge: real adapters by default, fakes or test transports on request."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawling import PoolSizes
from llm_engineering.application.ports import DocumentRepository
from llm_engineering.settings import Settings


@dataclass
class CrawlServices:
    dispatcher: CrawlerDispatcher
    repository: DocumentRepository
    pools: PoolSizes
    context: CrawlContext


def connect_warehouse(settings: Settings) -> DocumentRepository:
    from llm_engineering.infrastructure.db.mongo import connect_warehouse as connect

    return connect(settings)


@contextmanager
def crawl_services(
    settings: Settings,
    *,
    repository: DocumentRepository | None = None,
    domain_map: Mapping[str, str] | None = None,
    options: dict[str, dict] | None = None,
    transport: Any = None,
) -> Iterator[CrawlServices]:
    """Everything a crawl run needs, closed afterwards (HTTP client, browsers, warehouse)."""
    from llm_engineering.infrastructure.browser.chrome import ChromeBrowserProvider
    from llm_engineering.infrastructure.http.fetcher import HttpFetcher
    from llm_engineering.infrastructure.http.politeness import DomainLimiter

    limiter = DomainLimiter(settings.CRAWL_PER_DOMAIN_CONCURRENCY, settings.CRAWL_DOMAIN_DELAY)
    http = HttpFetcher(settings, limiter, transport=transport)
    browsers = ChromeBrowserProvider(settings)
    context = CrawlContext(
        settings=settings, http=http, limiter=limiter, browsers=browsers, options=options or {}
    )
    own_repository = repository is None
    repo = repository or connect_warehouse(settings)
    pools = PoolSizes(
        http_workers=settings.CRAWL_HTTP_WORKERS,
        browser_workers=settings.CRAWL_BROWSER_WORKERS,
        link_timeout=settings.CRAWL_LINK_TIMEOUT,
    )
    try:
        yield CrawlServices(
            dispatcher=CrawlerDispatcher(context, {**settings.CRAWL_DOMAIN_MAP, **(domain_map or {})}),
            repository=repo,
            pools=pools,
            context=context,
        )
    finally:
        browsers.close_all()
        http.close()
        if own_repository:
            repo.close()


@contextmanager
def vector_index(settings: Settings, *, mode: str = "reader") -> Iterator[Any]:
    """The vector DB for reading (a published release) or writing (the work copy); closed after."""
    from llm_engineering.infrastructure.db.vector_factory import connect_vector_index

    index = connect_vector_index(settings, mode=mode)  # type: ignore[arg-type]
    try:
        yield index
    finally:
        index.close()


def build_embedder(settings: Settings) -> Any:
    """The configured embedder; cheap until first used (the model loads in `warm_up`)."""
    from llm_engineering.infrastructure.models.embedder import EmbeddingConfig, SentenceEmbedder

    return SentenceEmbedder(EmbeddingConfig.from_settings(settings))


def build_chunkers(settings: Settings, embedder: Any) -> dict[Any, Any]:
    """One chunker per category, sized to the embedder's own tokenizer and sequence limit."""
    from llm_engineering.application.preprocessing.chunking import TokenChunker, default_chunking_configs

    configs = default_chunking_configs(embedder.max_seq_length, settings.CHUNK_OVERLAP_TOKENS)
    return dict.fromkeys(configs, TokenChunker(embedder.tokenizer, configs))

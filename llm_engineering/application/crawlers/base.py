"""What every crawler is and what it is given. A new site is a new BaseCrawler subclass."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from llm_engineering.domain.documents import ContentDocument, UserDocument

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from llm_engineering.application.crawlers.http import HttpFetcher
    from llm_engineering.application.crawlers.politeness import DomainLimiter
    from llm_engineering.settings import Settings


class BrowserProvider(Protocol):
    """Hands each worker thread its own browser, created on first use and reused across links."""

    def driver(self) -> WebDriver: ...

    def discard(self) -> None:
        """Drop the calling thread's browser (after it crashed); the next call makes a new one."""
        ...

    def close_all(self) -> None: ...


@dataclass
class CrawlContext:
    """Everything a crawler may use. Built once per run by the crawl engine."""

    settings: Settings
    http: HttpFetcher
    limiter: DomainLimiter
    browsers: BrowserProvider | None = None
    #: extra, per-run options from the ETL config (e.g. `{"medium": {"max_articles": 20}}`)
    options: dict[str, dict] = field(default_factory=dict)


class BaseCrawler(ABC):
    """Turns one link into domain documents. It never saves them: the engine does.

    Raise `CrawlError` (with an `ErrorKind`) for any failure; never return an empty list to mean
    "it failed". An empty list means the link was fine and held nothing new (an empty feed).
    """

    #: short name used in reports and the domain map ("github", "medium", ...)
    name: ClassVar[str]
    #: browser crawlers run on the smaller browser worker pool
    needs_browser: ClassVar[bool] = False

    def __init__(self, context: CrawlContext) -> None:
        self.context = context

    @abstractmethod
    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        """Fetch `link` and return the documents it holds, authored by `user`."""

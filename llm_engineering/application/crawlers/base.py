"""What every crawler is and what it is given. A new site is a new BaseCrawler subclass."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, StrictInt, ValidationError

from llm_engineering.application.crawlers.urls import domain_of
from llm_engineering.domain.documents import ArticleDocument, ContentDocument, UserDocument
from llm_engineering.domain.exceptions import ConfigError, CrawlError, ErrorKind

if TYPE_CHECKING:
    from llm_engineering.application.ports import BrowserProvider, Fetcher, Limiter, Page
    from llm_engineering.settings import Settings


#: a positive whole number, as YAML writes it (not "20", not true)
PositiveCount = Annotated[StrictInt, Field(gt=0)]


class CrawlerOptions(BaseModel):
    """Per-run options of a crawler (`crawler_options: {<name>: {...}}` in the ETL config).

    Subclass it to declare a crawler's options; unknown keys are refused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class ScrollOptions(CrawlerOptions):
    """Options of crawlers that scroll a page until it has loaded everything."""

    #: at most this many seconds for a scroll to load more while requests are still in flight
    scroll_wait: PositiveFloat = 10.0
    #: seconds with nothing loading after a scroll that gave nothing new: the page is complete
    scroll_settle: float = Field(default=0.5, ge=0)


@dataclass
class CrawlContext:
    """Everything a crawler may use. Built once per run by the crawl engine."""

    settings: Settings
    http: Fetcher
    limiter: Limiter
    browsers: BrowserProvider | None = None
    #: extra, per-run options from the ETL config (e.g. `{"medium": {"max_articles": 20}}`),
    #: validated by the dispatcher against each crawler's `options_model`
    options: dict[str, dict] = field(default_factory=dict)


class CancelToken:
    """Cooperative cancellation of one link's work: cancelled by the engine, or by its deadline.

    Long loops (feed entries, export members, repository files, HTTP requests) call
    `checkpoint()`, so the work itself stops when the link's time budget ends, not only the wait.
    """

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set() or (self.deadline is not None and time.monotonic() > self.deadline)


_CANCEL: ContextVar[CancelToken | None] = ContextVar("llm_twin_crawl_cancel", default=None)


@contextmanager
def cancellable(token: CancelToken) -> Iterator[CancelToken]:
    """Run the block under `token`: every `checkpoint()` inside it (this thread) obeys it."""
    reset = _CANCEL.set(token)
    try:
        yield token
    finally:
        _CANCEL.reset(reset)


def checkpoint(what: str) -> None:
    """Raise TIMEOUT when the current link's work was cancelled (its time budget ran out)."""
    token = _CANCEL.get()
    if token is not None and token.cancelled:
        raise CrawlError(
            ErrorKind.TIMEOUT,
            f"{what}: stopped, the link's time budget ran out: raise CRAWL_LINK_TIMEOUT if it is expected",
        )


class BaseCrawler(ABC):
    """Turns one link into domain documents. It never saves them: the engine does.

    Raise `CrawlError` (with an `ErrorKind`) for any failure; never return an empty list to mean
    "it failed". An empty list means the link was fine and held nothing new (an empty feed).
    """

    #: short name used in reports, the domain map and `crawler_options` ("github", "medium", ...)
    name: ClassVar[str]
    #: browser crawlers run on the smaller browser worker pool
    needs_browser: ClassVar[bool] = False
    #: the options this crawler accepts; the dispatcher validates them before any crawling
    options_model: ClassVar[type[CrawlerOptions]] = CrawlerOptions

    def __init__(self, context: CrawlContext, options: CrawlerOptions | None = None) -> None:
        self.context = context
        self.options = options if options is not None else self.options_from(context.options)

    @classmethod
    def option_sections(cls) -> tuple[str, ...]:
        """The `crawler_options` sections this crawler reads, later ones overriding earlier ones."""
        return (cls.name,)

    @classmethod
    def options_from(cls, options: Mapping[str, Any]) -> CrawlerOptions:
        """This crawler's options out of every crawler's; a bad one is a one-line ConfigError."""
        merged: dict[str, Any] = {}
        for section in cls.option_sections():
            value = options.get(section) or {}
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"crawler_options.{section} must be a mapping of option names to values, "
                    f"got {value!r}: fix crawler_options in the ETL config"
                )
            merged.update(value)
        try:
            return cls.options_model.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(_options_error(cls, exc)) from exc

    @abstractmethod
    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        """Fetch `link` and return the documents it holds, authored by `user`."""


class BrowserCrawler(BaseCrawler):
    """A crawler that reads pages in a browser tab: it says what to open, wait for and extract."""

    needs_browser: ClassVar[bool] = True
    options_model: ClassVar[type[CrawlerOptions]] = ScrollOptions
    options: ScrollOptions

    @contextmanager
    def browsing(self, link: str, domain: str | None = None) -> Iterator[Page]:
        """This thread's tab for `link`, holding a politeness slot of `domain` (the link's)."""
        browsers = self.context.browsers
        if browsers is None:
            raise CrawlError(ErrorKind.BROWSER, f"{link}: {self.name} needs a browser but the crawl has none")
        from llm_engineering.application.crawlers.network import NetworkPolicy

        # The browser resolves names itself: at least the link's own host is checked before it goes.
        NetworkPolicy.from_settings(self.context.settings).check_host(urlsplit(link).hostname, what=link)
        with browsers.page(link) as page, self.context.limiter.slot(domain or domain_of(link)):
            yield page

    def scroll(self, page: Page, stop: Callable[[], bool] | None = None) -> int:
        """Scroll `page` to its end within BROWSER_SCROLL_LIMIT and this crawler's scroll options."""
        return page.scroll_to_end(
            max_scrolls=self.context.settings.BROWSER_SCROLL_LIMIT,
            timeout=self.options.scroll_wait,
            settle=self.options.scroll_settle,
            stop=stop,
        )


def article_document(
    link: str,
    content: dict[str, Any],
    platform: str,
    user: UserDocument,
    *,
    published: datetime | None = None,
) -> ArticleDocument:
    """The warehouse document of one article by `user` (`published` when the source says when)."""
    return ArticleDocument(
        content=content,
        platform=platform,
        link=link,
        author_id=user.id,
        author_full_name=user.full_name,
        **({"created_at": published} if published else {}),
    )


def _options_error(crawler: type[BaseCrawler], exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in ("crawler_options", crawler.name, *first["loc"]))
    accepted = ", ".join(crawler.options_model.model_fields) or "none"
    problem = "is not an option" if first["type"] == "extra_forbidden" else first["msg"].lower()
    got = "" if first["type"] == "missing" else f" (got {first['input']!r})"
    return (
        f"{where}: {problem}{got}: fix crawler_options in the ETL config "
        f"(the {crawler.name!r} crawler accepts: {accepted})"
    )

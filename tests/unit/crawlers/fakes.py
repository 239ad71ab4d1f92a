"""Test doubles for the crawling ports: a browser tab over saved HTML, a limiter, a fetcher.

`FakePage` keeps the `Page` contract: `open` raises BOT_CHECK on a challenge page, `count` and
`wait_for` answer CSS selectors on the current HTML, `click` navigates, `scroll_to_end` loads the
site's lazy parts one scroll at a time (as the real page's scripts would).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from llm_engineering.domain.exceptions import CrawlError, ErrorKind

_CHALLENGE_TITLE = re.compile(r"<title>\s*(just a moment|security verification)", re.IGNORECASE)


@dataclass
class FakeSite:
    """What a site answers: `pages` by URL (a redirect is a `("->", url)` pair), the lazy parts a
    scroll appends (per URL: the element id and one HTML part per scroll), and what a click does."""

    pages: dict[str, str | tuple[str, str]] = field(default_factory=dict)
    lazy: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    on_click: Callable[[FakePage, str], str | None] | None = None

    def resolve(self, url: str) -> tuple[str, str]:
        for _ in range(5):
            answer = self.pages.get(url)
            if isinstance(answer, tuple):
                url = answer[1]
                continue
            if answer is None:
                return url, "<html><head><title>Page not found</title></head><body>404</body></html>"
            return url, answer
        raise AssertionError(f"redirect loop at {url}")


class FakePage:
    """The `Page` port over a `FakeSite`."""

    def __init__(self, site: FakeSite, session_id: str = "fake-session") -> None:
        self.site = site
        self.session_id = session_id
        self.url = "about:blank"
        self.html = "<html><body></body></html>"
        self.opened: list[str] = []
        self.typed: dict[str, str] = {}
        self.secret_fields: set[str] = set()
        self.scroll_calls: list[dict[str, Any]] = []
        self.waited_for: list[tuple[str, float]] = []
        self._parts_loaded: dict[str, int] = {}

    def open(self, url: str) -> None:
        self.opened.append(url)
        self.url, self.html = self.site.resolve(url)
        self._parts_loaded[self.url] = 0  # a fresh load has none of its lazy parts
        self.ensure_content(url)

    def ensure_content(self, link: str) -> None:
        if match := _CHALLENGE_TITLE.search(self.html):
            raise CrawlError(ErrorKind.BOT_CHECK, f"{link}: got a bot-check page ({match.group(1)!r})")

    def wait_for(self, selector: str, timeout: float) -> bool:
        self.waited_for.append((selector, timeout))
        return self.count(selector) > 0

    def count(self, selector: str) -> int:
        from bs4 import BeautifulSoup

        return len(BeautifulSoup(self.html, "lxml").select(selector))

    def type(self, selector: str, text: str, *, secret: bool = False) -> None:
        self._require(selector)
        self.typed[selector] = text
        if secret:
            self.secret_fields.add(selector)

    def click(self, selector: str, *, navigation_timeout: float | None = None) -> bool:
        self._require(selector)
        target = self.site.on_click(self, selector) if self.site.on_click else None
        if target is None:
            return navigation_timeout is None
        self.url, self.html = self.site.resolve(target)
        return True

    def scroll_to_end(
        self, *, max_scrolls: int, timeout: float, settle: float, stop: Callable[[], bool] | None = None
    ) -> int:
        self.scroll_calls.append({"max_scrolls": max_scrolls, "timeout": timeout, "settle": settle})
        element_id, parts = self.site.lazy.get(self.url, ("", []))
        grown = 0
        while grown < max_scrolls and not (stop is not None and stop()):
            loaded = self._parts_loaded.get(self.url, 0)
            if loaded >= len(parts):
                break
            self.html = _append_into(self.html, element_id, parts[loaded])
            self._parts_loaded[self.url] = loaded + 1
            grown += 1
        return grown

    def source(self) -> str:
        return self.html

    def _require(self, selector: str) -> None:
        if not self.count(selector):
            raise CrawlError(ErrorKind.BROWSER, f"{self.url}: no element matches {selector!r}")


class FakeBrowsers:
    """The `BrowserProvider` port: one `FakePage` for every link, counting the blocks opened."""

    def __init__(self, page: FakePage) -> None:
        self.tab = page
        self.links: list[str] = []

    @contextmanager
    def page(self, link: str) -> Iterator[FakePage]:
        self.links.append(link)
        yield self.tab


class FreeLimiter:
    """The `Limiter` port without limits, recording the domains asked for."""

    def __init__(self) -> None:
        self.domains: list[str] = []

    def slot(self, domain: str) -> AbstractContextManager[None]:
        self.domains.append(domain)
        return nullcontext()


def _append_into(html: str, element_id: str, part: str) -> str:
    """`html` with `part` appended to the element `element_id` (a script's insertAdjacentHTML)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    target = soup.find(id=element_id)
    assert target is not None, f"no #{element_id} to load into"
    for node in list(BeautifulSoup(part, "html.parser").contents):
        target.append(node)
    return str(soup)

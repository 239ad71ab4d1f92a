"""robots.txt, fetched once per origin and asked before every page request.

Parsed by protego (Scrapy's parser), which follows RFC 9309: `*` and `$` wildcards, the longest
matching rule wins, and `Allow` beats `Disallow` on a tie.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from loguru import logger

from llm_engineering.application.crawlers.urls import domain_of
from llm_engineering.infrastructure.http.body import read_capped

if TYPE_CHECKING:
    import httpx
    from protego import Protego

    from llm_engineering.application.ports import Limiter

#: robots.txt files are tiny; anything bigger is not a robots file worth parsing
MAX_ROBOTS_BYTES = 512 * 1024


class RobotsCache:
    """Answers "may this user agent fetch this URL?", reading each origin's robots.txt once.

    A missing robots.txt (or any 4xx) allows everything; a server error or an unreachable host
    also allows (and is logged): the page fetch that follows reports the real problem.
    """

    def __init__(self, client: httpx.Client, user_agent: str, limiter: Limiter | None = None) -> None:
        self._client = client
        self._user_agent = user_agent
        self._limiter = limiter
        #: origin -> its parsed rules; None means everything is allowed
        self._rules: dict[str, Protego | None] = {}
        self._lock = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}

    def allowed(self, url: str) -> bool:
        rules = self._rules_for(_origin(url))
        return rules is None or rules.can_fetch(url, self._user_agent)

    def _rules_for(self, origin: str) -> Protego | None:
        with self._lock:
            if origin in self._rules:
                return self._rules[origin]
            origin_lock = self._origin_locks.setdefault(origin, threading.Lock())
        # One fetch per origin, even when many workers ask at once.
        with origin_lock:
            with self._lock:
                if origin in self._rules:
                    return self._rules[origin]
            rules = self._fetch(origin)
            with self._lock:
                self._rules[origin] = rules
            return rules

    def _fetch(self, origin: str) -> Protego | None:
        import httpx
        from protego import Protego

        robots_url = f"{origin}/robots.txt"
        try:
            if self._limiter is not None:
                with self._limiter.slot(domain_of(origin)):
                    status, body = self._download(robots_url)
            else:
                status, body = self._download(robots_url)
        except httpx.HTTPError as exc:
            logger.warning("Could not read {} ({}): crawling it as if allowed", robots_url, exc)
            return None
        if status >= 500:
            logger.warning("{} answered {}: crawling it as if allowed", robots_url, status)
            return None
        if status >= 400 or body is None:
            return None
        return Protego.parse(body.decode("utf-8", errors="replace"))

    def _download(self, robots_url: str) -> tuple[int, bytes | None]:
        """GET robots.txt; the body is None when it is over MAX_ROBOTS_BYTES."""
        with self._client.stream("GET", robots_url, headers={"Accept": "text/plain, */*"}) as response:
            if response.status_code >= 400:
                return response.status_code, b""
            body = read_capped(response, MAX_ROBOTS_BYTES)
            if body is None:
                logger.warning("{} is over {} bytes: ignoring it", robots_url, MAX_ROBOTS_BYTES)
            return response.status_code, body


def _origin(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    return f"{parts.scheme.lower()}://{host}"

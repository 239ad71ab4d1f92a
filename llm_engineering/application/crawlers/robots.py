"""robots.txt, fetched once per origin and asked before every page request."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from loguru import logger

from llm_engineering.application.crawlers.urls import domain_of

if TYPE_CHECKING:
    import httpx

    from llm_engineering.application.crawlers.politeness import DomainLimiter

#: robots.txt files are tiny; anything bigger is not a robots file worth parsing
MAX_ROBOTS_BYTES = 512 * 1024


class RobotsCache:
    """Answers "may this user agent fetch this URL?", reading each origin's robots.txt once.

    A missing robots.txt (or any 4xx) allows everything; a server error or an unreachable host
    also allows (and is logged): the page fetch that follows reports the real problem.
    """

    def __init__(self, client: httpx.Client, user_agent: str, limiter: DomainLimiter | None = None) -> None:
        self._client = client
        self._user_agent = user_agent
        self._limiter = limiter
        self._parsers: dict[str, RobotFileParser] = {}
        self._lock = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}

    def allowed(self, url: str) -> bool:
        return self._parser_for(_origin(url)).can_fetch(self._user_agent, url)

    def _parser_for(self, origin: str) -> RobotFileParser:
        with self._lock:
            parser = self._parsers.get(origin)
            if parser is not None:
                return parser
            origin_lock = self._origin_locks.setdefault(origin, threading.Lock())
        # One fetch per origin, even when many workers ask at once.
        with origin_lock:
            with self._lock:
                if origin in self._parsers:
                    return self._parsers[origin]
            parser = self._fetch(origin)
            with self._lock:
                self._parsers[origin] = parser
            return parser

    def _fetch(self, origin: str) -> RobotFileParser:
        import httpx

        robots_url = f"{origin}/robots.txt"
        parser = RobotFileParser(robots_url)
        try:
            if self._limiter is not None:
                with self._limiter.slot(domain_of(origin)):
                    status, body = self._download(robots_url)
            else:
                status, body = self._download(robots_url)
        except httpx.HTTPError as exc:
            logger.warning("Could not read {} ({}): crawling it as if allowed", robots_url, exc)
            parser.allow_all = True
            return parser
        if status >= 500:
            logger.warning("{} answered {}: crawling it as if allowed", robots_url, status)
            parser.allow_all = True
        elif status >= 400 or body is None:
            parser.allow_all = True
        else:
            parser.parse(body.decode("utf-8", errors="replace").splitlines())
        return parser

    def _download(self, robots_url: str) -> tuple[int, bytes | None]:
        """GET robots.txt; the body is None when it is over MAX_ROBOTS_BYTES."""
        with self._client.stream("GET", robots_url, headers={"Accept": "text/plain, */*"}) as response:
            if response.status_code >= 400:
                return response.status_code, b""
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_ROBOTS_BYTES:
                    logger.warning("{} is over {} bytes: ignoring it", robots_url, MAX_ROBOTS_BYTES)
                    return response.status_code, None
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    return f"{parts.scheme.lower()}://{host}"

"""Fixture sites on 127.0.0.1 and a CrawlContext built from real Settings, fetcher and limiter."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.domain.documents import UserDocument
from llm_engineering.infrastructure.http.fetcher import HttpFetcher
from llm_engineering.infrastructure.http.politeness import DomainLimiter
from llm_engineering.settings import Settings
from tests.integration.crawlers_http.servers import FixtureHandler, FixtureServer, HostRewriteTransport

SITES = Path(__file__).resolve().parents[2] / "fixtures" / "http_sites"
BLOG_HOST = "janes.blog.test"
SUBSTACK_HOST = "testpub.substack.com"
HUGE_BYTES = 20 * 1024 * 1024

HTML_OK = b"<html><body><article><h1>Recovered</h1><p>It worked after all.</p></article></body></html>"


def _bump(handler: FixtureHandler, key: str) -> int:
    with handler.server.lock:
        count = int(handler.server.state.get(key, 0)) + 1
        handler.server.state[key] = count
    return count


def _flaky(handler: FixtureHandler) -> None:
    """500 on the first request, the page afterwards."""
    if _bump(handler, "flaky") == 1:
        handler.send_body(500, b"boom", "text/plain")
    else:
        handler.send_body(200, HTML_OK, "text/html; charset=utf-8")


def _always_500(handler: FixtureHandler) -> None:
    handler.send_body(500, b"still broken", "text/plain")


def _rate_limited_once(handler: FixtureHandler) -> None:
    """429 with Retry-After: 1 on the first request, the page afterwards."""
    if _bump(handler, "rate") == 1:
        handler.send_body(429, b"slow down", "text/plain", {"Retry-After": "1"})
    else:
        handler.send_body(200, HTML_OK, "text/html; charset=utf-8")


def _always_429(handler: FixtureHandler) -> None:
    handler.send_body(429, b"slow down", "text/plain", {"Retry-After": "0"})


def _slow(handler: FixtureHandler) -> None:
    """Answers only after 1.5 s (longer than the tests' request timeout)."""
    time.sleep(1.5)
    handler.send_body(200, HTML_OK, "text/html")


def _octet_stream(handler: FixtureHandler) -> None:
    handler.send_body(200, b"\x00\x01\x02binary", "application/octet-stream")


def _pdf(handler: FixtureHandler) -> None:
    handler.send_body(200, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "application/pdf")


def _huge_streamed(handler: FixtureHandler) -> None:
    """20 MB of HTML without Content-Length; records how much actually left the server."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
    sent = 0
    handler.server.state["huge_sent"] = 0
    handler.server.state["huge_aborted"] = False
    try:
        while sent < HUGE_BYTES:
            handler.wfile.write(chunk)
            sent += len(chunk)
            handler.server.state["huge_sent"] = sent
    except (BrokenPipeError, ConnectionResetError):
        handler.server.state["huge_aborted"] = True
    finally:
        handler.server.state["huge_done"] = True


def _huge_declared(handler: FixtureHandler) -> None:
    """Declares 20 MB up front and then sends it slowly; a client must refuse from the header."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(HUGE_BYTES))
    handler.end_headers()
    handler.close_connection = True
    try:
        for _ in range(HUGE_BYTES // 65536):
            handler.wfile.write(b"y" * 65536)
            time.sleep(0.01)
    except (BrokenPipeError, ConnectionResetError):
        pass


def _timed_page(handler: FixtureHandler) -> None:
    """A page that takes 50 ms, for overlap checks."""
    time.sleep(0.05)
    handler.send_body(200, HTML_OK, "text/html; charset=utf-8")


def _utf8_without_charset(handler: FixtureHandler) -> None:
    body = "<html><body><p>Café, naïve, “quotes” — and €</p></body></html>".encode()
    handler.send_body(200, body, "text/html")


def _latin1_meta(handler: FixtureHandler) -> None:
    body = '<html><head><meta charset="iso-8859-1"></head><body><p>Café à la carte</p></body></html>'
    handler.send_body(200, body.encode("latin-1"), "text/html")


def _robots_500(handler: FixtureHandler) -> None:
    handler.send_body(500, b"robots broken", "text/plain")


SCRIPTED_ROUTES = {
    "/flaky": _flaky,
    "/always-500": _always_500,
    "/rate-limited": _rate_limited_once,
    "/always-429": _always_429,
    "/slow": _slow,
    "/file.bin": _octet_stream,
    "/paper.pdf": _pdf,
    "/huge": _huge_streamed,
    "/huge-declared": _huge_declared,
    "/timed": _timed_page,
    "/utf8": _utf8_without_charset,
    "/latin1": _latin1_meta,
    "/robots.txt": _robots_500,
}


@pytest.fixture
def blog_server() -> Iterator[FixtureServer]:
    server = FixtureServer(SITES / "blog").start()
    yield server
    server.stop()


@pytest.fixture
def substack_server() -> Iterator[FixtureServer]:
    server = FixtureServer(SITES / "substack").start()
    yield server
    server.stop()


@pytest.fixture
def scripted_server() -> Iterator[FixtureServer]:
    server = FixtureServer(routes=SCRIPTED_ROUTES).start()
    yield server
    server.stop()


@pytest.fixture
def user() -> UserDocument:
    return UserDocument.from_full_name("Test Person")


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings built directly (no .env): fast delays and timeouts for tests."""
    values: dict[str, Any] = {
        "DATA_DIR": tmp_path / "data",
        "CRAWL_DOMAIN_DELAY": 0.0,
        "CRAWL_PER_DOMAIN_CONCURRENCY": 2,
        "CRAWL_REQUEST_TIMEOUT": 5.0,
        "CRAWL_MAX_RETRIES": 2,
        "CRAWL_BACKOFF_BASE": 0.05,
        "CRAWL_BACKOFF_MAX": 2.0,
        "CRAWL_MAX_PAGE_BYTES": 1024 * 1024,
        "GIT_CLONE_TIMEOUT": 60.0,
        # The fixture sites serve on 127.0.0.1: opt in to private addresses (blocked by default).
        "CRAWL_ALLOW_PRIVATE_NETWORKS": True,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


ContextFactory = Callable[..., CrawlContext]


@pytest.fixture
def make_context(tmp_path: Path) -> Iterator[ContextFactory]:
    """Build a CrawlContext; `hosts` maps fixture host names to local ports."""
    fetchers: list[HttpFetcher] = []

    def factory(
        *, hosts: dict[str, int] | None = None, options: dict[str, dict] | None = None, **overrides: Any
    ) -> CrawlContext:
        settings = make_settings(tmp_path, **overrides)
        limiter = DomainLimiter(settings.CRAWL_PER_DOMAIN_CONCURRENCY, settings.CRAWL_DOMAIN_DELAY)
        transport = HostRewriteTransport(hosts or {})
        fetcher = HttpFetcher(settings, limiter, transport=transport)
        fetchers.append(fetcher)
        return CrawlContext(
            settings=settings, http=fetcher, limiter=limiter, browsers=None, options=options or {}
        )

    yield factory
    for fetcher in fetchers:
        fetcher.close()

"""HttpFetcher against real local servers: each bad input gives its precise ErrorKind."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from llm_engineering.application.crawlers.urls import validate_link
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from llm_engineering.infrastructure.http.fetcher import FetchedPage, decode_body, parse_retry_after
from tests.integration.crawlers_http.conftest import BLOG_HOST, HTML_OK, HUGE_BYTES
from tests.integration.crawlers_http.servers import FixtureHandler, FixtureServer, refused_port

WILDCARD_ROBOTS = b"""User-agent: *
Disallow: /*.pdf$
Disallow: /drafts*/
Allow: /drafts-public/
"""


def _fails(fetch, kind: ErrorKind, *must_mention: str) -> CrawlError:
    with pytest.raises(CrawlError) as caught:
        fetch()
    error = caught.value
    assert error.kind is kind, f"expected {kind}, got {error.kind}: {error}"
    message = str(error)
    assert "\n" not in message
    for text in must_mention:
        assert text in message, message
    return error


class TestMalformedLinks:
    @pytest.mark.parametrize(
        "link", ["https://exa mple.com/post", "http://example.com:99999/post", "example.com/post"]
    )
    def test_malformed_url_is_invalid(self, link: str) -> None:
        _fails(lambda: validate_link(link), ErrorKind.INVALID_URL, link)

    def test_fetcher_refuses_malformed_url(self, make_context) -> None:
        fetcher = make_context().http
        _fails(lambda: fetcher.get("http://[::1/post"), ErrorKind.INVALID_URL, "http://[::1/post")
        _fails(lambda: fetcher.get("https:///post"), ErrorKind.INVALID_URL, "no host name")

    def test_unknown_scheme_is_unsupported(self, make_context) -> None:
        _fails(lambda: validate_link("ftp://example.com/post"), ErrorKind.UNSUPPORTED_URL, "ftp")
        fetcher = make_context().http
        _fails(
            lambda: fetcher.get("ftp://example.com/post"), ErrorKind.UNSUPPORTED_URL, "ftp://example.com/post"
        )


class TestNetworkFailures:
    def test_dns_failure(self, make_context) -> None:
        fetcher = make_context().http
        url = "http://no-such-host.invalid/post"
        _fails(lambda: fetcher.get(url), ErrorKind.DNS, url, "no-such-host.invalid")

    def test_connection_refused(self, make_context) -> None:
        url = f"http://127.0.0.1:{refused_port()}/post"
        fetcher = make_context(CRAWL_MAX_RETRIES=1).http
        error = _fails(lambda: fetcher.get(url), ErrorKind.CONNECTION, url, "2 attempts")
        assert error.transient

    def test_timeout_is_retried_then_reported(self, make_context, scripted_server) -> None:
        fetcher = make_context(CRAWL_REQUEST_TIMEOUT=0.3, CRAWL_MAX_RETRIES=1).http
        url = f"{scripted_server.base_url}/slow"
        started = time.monotonic()
        _fails(lambda: fetcher.get(url), ErrorKind.TIMEOUT, url, "CRAWL_REQUEST_TIMEOUT")
        assert time.monotonic() - started < 1.5
        assert scripted_server.count("/slow") == 2


class TestHttpStatuses:
    def test_404_is_final(self, make_context, blog_server) -> None:
        fetcher = make_context().http
        url = f"{blog_server.base_url}/posts/missing.html"
        _fails(lambda: fetcher.get(url), ErrorKind.HTTP_4XX, url, "404")
        assert blog_server.count("/posts/missing.html") == 1

    def test_500_then_success_is_retried(self, make_context, scripted_server) -> None:
        fetcher = make_context(CRAWL_RESPECT_ROBOTS=False).http
        page = fetcher.get(f"{scripted_server.base_url}/flaky")
        assert page.status == 200
        assert "It worked after all." in page.text
        assert scripted_server.count("/flaky") == 2

    def test_500_forever_gives_up_after_max_retries(self, make_context, scripted_server) -> None:
        fetcher = make_context(CRAWL_RESPECT_ROBOTS=False, CRAWL_MAX_RETRIES=2).http
        url = f"{scripted_server.base_url}/always-500"
        _fails(lambda: fetcher.get(url), ErrorKind.HTTP_5XX, url, "500", "3 attempts")
        assert scripted_server.count("/always-500") == 3

    def test_429_honours_retry_after_then_succeeds(self, make_context, scripted_server) -> None:
        fetcher = make_context(CRAWL_RESPECT_ROBOTS=False, CRAWL_BACKOFF_BASE=0.01).http
        started = time.monotonic()
        page = fetcher.get(f"{scripted_server.base_url}/rate-limited")
        elapsed = time.monotonic() - started
        assert "It worked after all." in page.text
        hits = scripted_server.hits_for("/rate-limited")
        assert len(hits) == 2
        assert hits[1].start - hits[0].start >= 0.95, "Retry-After: 1 was not honoured"
        assert elapsed < 3

    def test_429_forever_is_rate_limited(self, make_context, scripted_server) -> None:
        fetcher = make_context(CRAWL_RESPECT_ROBOTS=False, CRAWL_MAX_RETRIES=1).http
        url = f"{scripted_server.base_url}/always-429"
        error = _fails(lambda: fetcher.get(url), ErrorKind.RATE_LIMITED, url, "429")
        assert error.retry_after == 0.0
        assert scripted_server.count("/always-429") == 2

    def test_retry_after_http_date(self) -> None:
        in_five = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
        assert 3.5 <= parse_retry_after(in_five) <= 5.0
        assert parse_retry_after("7") == 7.0
        assert parse_retry_after("soon") is None
        past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
        assert parse_retry_after(past) == 0.0


class TestContent:
    @pytest.mark.parametrize("path", ["/file.bin", "/paper.pdf"])
    def test_non_html_is_refused_without_retry(self, make_context, scripted_server, path: str) -> None:
        fetcher = make_context(CRAWL_RESPECT_ROBOTS=False).http
        url = f"{scripted_server.base_url}{path}"
        _fails(lambda: fetcher.get(url), ErrorKind.NOT_HTML, url)
        assert scripted_server.count(path) == 1

    def test_accept_none_takes_any_type(self, make_context, scripted_server) -> None:
        fetcher = make_context(CRAWL_RESPECT_ROBOTS=False).http
        page = fetcher.get(f"{scripted_server.base_url}/paper.pdf", accept=None)
        assert page.content_type == "application/pdf"
        assert page.content.startswith(b"%PDF")

    def test_huge_streamed_page_stops_reading_early(self, make_context, scripted_server) -> None:
        fetcher = make_context(CRAWL_RESPECT_ROBOTS=False).http
        url = f"{scripted_server.base_url}/huge"
        _fails(lambda: fetcher.get(url), ErrorKind.TOO_LARGE, url, "CRAWL_MAX_PAGE_BYTES")
        deadline = time.monotonic() + 10
        while not scripted_server.state.get("huge_done") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scripted_server.state["huge_aborted"], "the client read the whole 20 MB"
        assert scripted_server.state["huge_sent"] < HUGE_BYTES
        assert scripted_server.count("/huge") == 1

    def test_huge_declared_page_is_refused_from_its_header(self, make_context, scripted_server) -> None:
        fetcher = make_context(CRAWL_RESPECT_ROBOTS=False).http
        url = f"{scripted_server.base_url}/huge-declared"
        started = time.monotonic()
        _fails(lambda: fetcher.get(url), ErrorKind.TOO_LARGE, url)
        # Streaming the body would take over 3 s; refusing from Content-Length is immediate.
        assert time.monotonic() - started < 1.0

    def test_utf8_without_charset_is_not_read_as_latin1(self, make_context, scripted_server) -> None:
        page = make_context(CRAWL_RESPECT_ROBOTS=False).http.get(f"{scripted_server.base_url}/utf8")
        assert "Café, naïve, “quotes” — and €" in page.text

    def test_meta_charset_is_honoured(self, make_context, scripted_server) -> None:
        page = make_context(CRAWL_RESPECT_ROBOTS=False).http.get(f"{scripted_server.base_url}/latin1")
        assert "Café à la carte" in page.text

    def test_decode_prefers_declared_charset(self) -> None:
        page = FetchedPage("http://x.test/", 200, {"content-type": "text/html; charset=cp1252"}, b"caf\xe9")
        assert page.text == "café"
        assert page.content_type == "text/html"
        assert decode_body("naïve".encode()) == "naïve"


class TestRobots:
    def test_disallowed_path_is_never_fetched(self, make_context, blog_server) -> None:
        fetcher = make_context(hosts={BLOG_HOST: blog_server.port}).http
        url = f"https://{BLOG_HOST}/private/secret.html"
        _fails(
            lambda: fetcher.get(url), ErrorKind.ROBOTS_DISALLOWED, url, "robots.txt", "CRAWL_RESPECT_ROBOTS"
        )
        assert blog_server.count("/private/secret.html") == 0
        fetcher.get(f"https://{BLOG_HOST}/posts/ownership.html")
        assert blog_server.count("/robots.txt") == 1, "robots.txt must be cached per origin"

    def test_robots_can_be_ignored_when_told(self, make_context, blog_server) -> None:
        fetcher = make_context(hosts={BLOG_HOST: blog_server.port}, CRAWL_RESPECT_ROBOTS=False).http
        page = fetcher.get(f"https://{BLOG_HOST}/private/secret.html")
        assert "Private notes" in page.text
        assert blog_server.count("/robots.txt") == 0

    def test_missing_or_broken_robots_allow(self, make_context, substack_server, scripted_server) -> None:
        fetcher = make_context().http
        assert fetcher.get(f"{substack_server.base_url}/p/post-one").status == 200  # robots.txt is 404
        assert fetcher.get(f"{scripted_server.base_url}/utf8").status == 200  # robots.txt is 500
        assert substack_server.count("/robots.txt") == 1
        assert scripted_server.count("/robots.txt") == 1

    def test_wildcard_and_end_anchor_rules(self, make_context) -> None:
        """`*` and `$` (RFC 9309), and the longest match wins: urllib.robotparser gets these wrong."""

        def page(handler: FixtureHandler) -> None:
            handler.send_body(200, HTML_OK, "text/html; charset=utf-8")

        allowed = ["/notes/paper.pdf.html", "/notes/paper.pdf?format=html", "/drafts-public/idea.html"]
        disallowed = ["/notes/paper.pdf", "/drafts-2024/idea.html", "/drafts/idea.html"]
        routes = {path.split("?", 1)[0]: page for path in allowed + disallowed}
        routes["/robots.txt"] = lambda handler: handler.send_body(200, WILDCARD_ROBOTS, "text/plain")
        server = FixtureServer(routes=routes).start()
        try:
            fetcher = make_context().http
            for path in allowed:
                assert fetcher.get(f"{server.base_url}{path}").status == 200, path
            for path in disallowed:
                url = f"{server.base_url}{path}"
                _fails(lambda url=url: fetcher.get(url), ErrorKind.ROBOTS_DISALLOWED, url)
            assert {hit.path for hit in server.hits} == {"/robots.txt", *(p.split("?")[0] for p in allowed)}
        finally:
            server.stop()

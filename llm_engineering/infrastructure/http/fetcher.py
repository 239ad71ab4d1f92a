"""The one HTTP fetcher every crawler uses (the `Fetcher` port): robots.txt, politeness, size cap,
retries, clear errors.

Cross-cutting concerns wrap this fetcher once (scrapy's downloader middlewares, in one class), so a
crawler only says `context.http.get(url)` and gets either a page or a `CrawlError` with a kind.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from loguru import logger

from llm_engineering.application.crawlers.base import checkpoint
from llm_engineering.application.crawlers.network import NetworkPolicy
from llm_engineering.application.crawlers.urls import WEB_SCHEMES, domain_of, redact_link
from llm_engineering.application.ports import HTML_TYPES
from llm_engineering.domain.exceptions import CrawlError, ErrorKind, InvalidURL, UnsupportedURL
from llm_engineering.infrastructure.http.body import read_capped
from llm_engineering.infrastructure.http.charset import decode_body, header_charset
from llm_engineering.infrastructure.http.robots import RobotsCache

if TYPE_CHECKING:
    import httpx
    from tenacity import RetryCallState

    from llm_engineering.infrastructure.http.politeness import DomainLimiter
    from llm_engineering.settings import Settings

_DNS_HINTS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "no address associated with hostname",
    "getaddrinfo failed",
)


@dataclass(frozen=True)
class FetchedPage:
    """A fetched response body with the URL it finally came from (after redirects)."""

    url: str
    status: int
    #: lower-cased header names
    headers: dict[str, str]
    content: bytes

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ("" when the server sent none)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        return header_charset(self.headers.get("content-type", ""))

    @cached_property
    def text(self) -> str:
        """The body decoded by its declared charset, else its meta/XML declaration, else detected."""
        return decode_body(self.content, self.charset)


class HttpFetcher:
    """One shared, thread-safe HTTP client with robots.txt, per-domain politeness and retries.

    Every request (each redirect hop, robots.txt, feed items) passes the crawl's `NetworkPolicy`:
    its host is resolved and checked before connecting, and the peer it connected to after.
    """

    def __init__(
        self,
        settings: Settings,
        limiter: DomainLimiter,
        *,
        transport: httpx.BaseTransport | None = None,
        network: NetworkPolicy | None = None,
    ) -> None:
        import httpx

        self.settings = settings
        self.limiter = limiter
        self.network = network or NetworkPolicy.from_settings(settings)
        self._env_proxies = transport is None  # httpx ignores proxy variables beside a transport
        hooks = (
            {"request": [self._guard_request], "response": [self._guard_response]}
            if self.network.active
            else {}
        )
        # trust_env: HTTP(S)_PROXY, NO_PROXY and SSL_CERT_FILE apply (httpx ignores proxies
        # when a transport is injected, as tests do).
        self._client = httpx.Client(
            transport=transport,
            trust_env=True,
            follow_redirects=True,
            max_redirects=10,
            timeout=httpx.Timeout(settings.CRAWL_REQUEST_TIMEOUT),
            headers={"User-Agent": settings.CRAWL_USER_AGENT},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            event_hooks=hooks,
        )
        self._robots = RobotsCache(self._client, settings.CRAWL_USER_AGENT, limiter)

    def get(self, url: str, *, accept: tuple[str, ...] | None = HTML_TYPES) -> FetchedPage:
        """GET `url`; `accept` lists the media types wanted (None accepts any).

        Transient failures (timeouts, 5xx, 429, dropped connections) are retried with exponential
        backoff, honouring Retry-After; everything else raises `CrawlError` at once.
        """
        from tenacity import Retrying, retry_if_exception, stop_after_attempt

        _check_web_url(url)
        checkpoint(url)
        if self.settings.CRAWL_RESPECT_ROBOTS and not self._robots.allowed(url):
            raise CrawlError(
                ErrorKind.ROBOTS_DISALLOWED,
                f"{url} is disallowed by its site's robots.txt for {self.settings.CRAWL_USER_AGENT!r}: "
                "remove the link, or set CRAWL_RESPECT_ROBOTS=false if you own the site",
            )
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.CRAWL_MAX_RETRIES + 1),
            retry=retry_if_exception(lambda exc: isinstance(exc, CrawlError) and exc.transient),
            wait=self._wait,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._attempt, url, accept)
        except CrawlError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            if exc.transient and attempts > 1:
                raise CrawlError(
                    exc.kind, f"{exc} (gave up after {attempts} attempts)", retry_after=exc.retry_after
                ) from exc
            raise

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- the network policy, on every hop -------------------------------------------------------

    def _guard_request(self, request: httpx.Request) -> None:
        url = request.url
        self.network.check_host(url.host, url.port, what=redact_link(str(url)))

    def _guard_response(self, response: httpx.Response) -> None:
        url = response.request.url
        if self._env_proxies and _proxied(url.scheme, url.host):
            return  # the peer is the proxy, which reaches the host for us
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if peer:
            self.network.check_address(str(peer[0]), what=redact_link(str(url)), host=url.host)

    # --- one attempt ---------------------------------------------------------------------------

    def _attempt(self, url: str, accept: tuple[str, ...] | None) -> FetchedPage:
        import httpx

        timeout = self.settings.CRAWL_REQUEST_TIMEOUT
        with self.limiter.slot(domain_of(url)):
            try:
                with self._client.stream("GET", url, headers={"Accept": _accept_header(accept)}) as response:
                    self._check_status(url, response)
                    headers = {key.lower(): value for key, value in response.headers.items()}
                    page_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
                    if accept is not None and page_type and page_type not in accept:
                        raise CrawlError(
                            ErrorKind.NOT_HTML,
                            f"{url} is {page_type}, not {' or '.join(accept)}: "
                            "link to the web page of the article instead",
                        )
                    content = self._read_body(url, response)
                    page = FetchedPage(str(response.url), response.status_code, headers, content)
            except httpx.TimeoutException as exc:
                raise CrawlError(
                    ErrorKind.TIMEOUT,
                    f"{url} did not answer within {timeout:g}s: retry later or raise CRAWL_REQUEST_TIMEOUT",
                ) from exc
            except httpx.ConnectError as exc:
                if _is_dns_failure(exc):
                    host = urlsplit(url).hostname
                    raise CrawlError(
                        ErrorKind.DNS,
                        f"{url}: the host name {host!r} does not resolve: check the spelling of the link",
                    ) from exc
                raise CrawlError(
                    ErrorKind.CONNECTION, f"{url}: could not connect ({_brief(exc)}): check the site is up"
                ) from exc
            except httpx.TooManyRedirects as exc:
                raise CrawlError(
                    ErrorKind.INVALID_URL, f"{url} redirects in a loop: open it in a browser and fix the link"
                ) from exc
            except httpx.UnsupportedProtocol as exc:
                raise UnsupportedURL(
                    f"{url} redirects to an unsupported URL ({_brief(exc)}): use http(s) links"
                ) from exc
            except httpx.InvalidURL as exc:
                raise InvalidURL(f"{url} is malformed ({_brief(exc)}): fix the link") from exc
            except httpx.DecodingError as exc:
                raise CrawlError(
                    ErrorKind.NO_CONTENT,
                    f"{url} sent a body that cannot be decoded ({_brief(exc)}): try it later",
                ) from exc
            except httpx.TransportError as exc:
                raise CrawlError(
                    ErrorKind.CONNECTION,
                    f"{url}: the connection failed ({_brief(exc)}): check the site is up",
                ) from exc
        if accept is not None and not page.content_type and not page.content.lstrip()[:1] == b"<":
            raise CrawlError(
                ErrorKind.NOT_HTML,
                f"{url} sent no content type and is not markup: link to a web page instead",
            )
        return page

    def _check_status(self, url: str, response: httpx.Response) -> None:
        status = response.status_code
        if status < 300:
            return
        reason = f"{status} {response.reason_phrase}".strip()
        if status == 429 or (status == 503 and "retry-after" in response.headers):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after:
                self.limiter.pause(domain_of(url), min(retry_after, self.settings.CRAWL_BACKOFF_MAX))
            kind = ErrorKind.RATE_LIMITED if status == 429 else ErrorKind.HTTP_5XX
            raise CrawlError(
                kind,
                f"{url} answered {reason} (Retry-After: {_seconds(retry_after)}): "
                "lower CRAWL_PER_DOMAIN_CONCURRENCY or raise CRAWL_DOMAIN_DELAY",
                retry_after=retry_after,
            )
        if status >= 500:
            raise CrawlError(ErrorKind.HTTP_5XX, f"{url} answered {reason}: the site is failing, retry later")
        if status == 408:
            raise CrawlError(ErrorKind.TIMEOUT, f"{url} answered {reason}: retry later")
        if status in (401, 403):
            raise CrawlError(
                ErrorKind.HTTP_4XX, f"{url} answered {reason}: the page is private or blocks crawlers"
            )
        if status == 404 or status == 410:
            raise CrawlError(ErrorKind.HTTP_4XX, f"{url} answered {reason}: check the link is correct")
        raise CrawlError(ErrorKind.HTTP_4XX, f"{url} answered {reason}: check the link in a browser")

    def _read_body(self, url: str, response: httpx.Response) -> bytes:
        """Read at most CRAWL_MAX_PAGE_BYTES, refusing early on a larger Content-Length."""
        limit = self.settings.CRAWL_MAX_PAGE_BYTES
        too_large = (
            f"{url} is larger than CRAWL_MAX_PAGE_BYTES={limit}: raise the limit if the page is really wanted"
        )
        content = read_capped(response, limit)
        if content is None:
            raise CrawlError(ErrorKind.TOO_LARGE, too_large)
        return content

    # --- retry policy --------------------------------------------------------------------------

    def _wait(self, retry_state: RetryCallState) -> float:
        """Exponential backoff from CRAWL_BACKOFF_BASE, or the server's Retry-After, capped."""
        cap = self.settings.CRAWL_BACKOFF_MAX
        delay = min(self.settings.CRAWL_BACKOFF_BASE * 2 ** (retry_state.attempt_number - 1), cap)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            delay = max(delay, min(retry_after, cap))
        return delay

    @staticmethod
    def _log_retry(retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        sleep = retry_state.next_action.sleep if retry_state.next_action else 0.0
        logger.warning("Attempt {} failed, retrying in {:.2f}s: {}", retry_state.attempt_number, sleep, exc)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _accept_header(accept: tuple[str, ...] | None) -> str:
    if accept is None:
        return "*/*"
    return ", ".join(accept) + ", */*;q=0.1"


def _check_web_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise InvalidURL(f"{url!r} is malformed ({exc}): fix the link") from exc
    if parts.scheme.lower() not in WEB_SCHEMES:
        raise UnsupportedURL(
            f"{url!r} is not an http(s) URL: the web fetcher reads http and https links only"
        )
    if not host:
        raise InvalidURL(f"{url!r} has no host name: fix the link")


def _proxied(scheme: str, host: str) -> bool:
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass_environment(host, proxies)


def _seconds(value: float | None) -> str:
    return "none" if value is None else f"{value:g}s"


def _brief(exc: BaseException) -> str:
    """An exception as one short line for a message."""
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _is_dns_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    return any(hint in text for hint in _DNS_HINTS)


__all__ = ["FetchedPage", "HttpFetcher", "decode_body", "parse_retry_after"]

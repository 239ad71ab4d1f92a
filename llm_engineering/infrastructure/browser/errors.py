"""Selenium's exceptions as one-line `CrawlError`s with a kind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from llm_engineering.domain.exceptions import CrawlError, ErrorKind

_NET_ERROR_KINDS: tuple[tuple[str, ErrorKind], ...] = (
    ("ERR_NAME_NOT_RESOLVED", ErrorKind.DNS),
    ("ERR_NAME_RESOLUTION_FAILED", ErrorKind.DNS),
    ("ERR_TIMED_OUT", ErrorKind.TIMEOUT),
    ("ERR_CONNECTION_TIMED_OUT", ErrorKind.TIMEOUT),
    ("ERR_CONNECTION", ErrorKind.CONNECTION),
    ("ERR_ADDRESS_UNREACHABLE", ErrorKind.CONNECTION),
    ("ERR_INTERNET_DISCONNECTED", ErrorKind.CONNECTION),
    ("ERR_PROXY", ErrorKind.CONNECTION),
    ("ERR_TOO_MANY_REDIRECTS", ErrorKind.CONNECTION),
    ("ERR_CERT", ErrorKind.TLS),
    ("ERR_SSL", ErrorKind.TLS),
    ("ERR_BAD_SSL", ErrorKind.TLS),
)
#: what to do about a rejected certificate
TLS_HINT = (
    "the browser rejected the site's TLS certificate; if a private or corporate CA signs it "
    "(a TLS-inspecting proxy), set BROWSER_CA_CERT_FILE to that CA's PEM file"
)


def first_line(exc: BaseException) -> str:
    """An exception as one line, without Selenium's "For documentation..." tail."""
    message = (getattr(exc, "msg", None) or str(exc)).strip()
    message = message.splitlines()[0] if message else type(exc).__name__
    return message.split("; For documentation on this error", 1)[0]


@contextmanager
def browser_errors(link: str, discard: Callable[[], None]) -> Iterator[None]:
    """Turn Selenium's exceptions into one-line CrawlErrors; `discard()` a browser that may be broken."""
    from selenium.common.exceptions import TimeoutException, WebDriverException

    try:
        yield
    except TimeoutException as exc:
        raise CrawlError(
            ErrorKind.TIMEOUT,
            f"{link}: the page did not finish loading in time; retry later or raise BROWSER_PAGE_TIMEOUT",
        ) from exc
    except WebDriverException as exc:
        message = first_line(exc)
        kind = next((k for code, k in _NET_ERROR_KINDS if code in message), None)
        if kind is None:
            # Not a network error: the browser itself failed; a fresh one serves the next link.
            discard()
            kind = ErrorKind.BROWSER
        hint = f": {TLS_HINT}" if kind is ErrorKind.TLS else ""
        raise CrawlError(kind, f"{link}: {message}{hint}") from exc

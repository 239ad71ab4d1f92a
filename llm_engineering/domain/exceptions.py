"""Narrow, meaningful exceptions: callers catch what they can handle, nothing else."""

from __future__ import annotations

from enum import StrEnum


class LLMTwinException(Exception):
    """Base of every error this project raises on purpose."""


class ErrorKind(StrEnum):
    """Why a link failed; reported per link and counted per domain."""

    INVALID_URL = "invalid_url"
    UNSUPPORTED_URL = "unsupported_url"
    DNS = "dns"
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    RATE_LIMITED = "rate_limited"
    NOT_HTML = "not_html"
    TOO_LARGE = "too_large"
    ROBOTS_DISALLOWED = "robots_disallowed"
    BOT_CHECK = "bot_check"
    LOGIN_REQUIRED = "login_required"
    MISSING_CREDENTIALS = "missing_credentials"
    NO_CONTENT = "no_content"
    GIT = "git"
    REPO_NOT_FOUND = "repo_not_found"
    BAD_EXPORT = "bad_export"
    BROWSER = "browser"
    #: the site's TLS certificate was rejected (unknown CA, expired, wrong name)
    TLS = "tls"
    #: the link, a redirect or a feed item points at a private/loopback/metadata address
    BLOCKED_ADDRESS = "blocked_address"
    INTERNAL = "internal"

    @property
    def transient(self) -> bool:
        """Transient failures are worth retrying with backoff; the rest are final."""
        return self in {ErrorKind.TIMEOUT, ErrorKind.HTTP_5XX, ErrorKind.RATE_LIMITED, ErrorKind.CONNECTION}


class CrawlError(LLMTwinException):
    """A link could not be crawled; `kind` says why, the message says what to do."""

    def __init__(self, kind: ErrorKind, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.kind.transient


class UnsupportedURL(CrawlError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.UNSUPPORTED_URL, message)


class InvalidURL(CrawlError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.INVALID_URL, message)


class StoreUnavailable(LLMTwinException):
    """A database or vector store cannot be reached or opened."""


class ConfigError(LLMTwinException):
    """A config file or setting is invalid; the message names it and says how to fix it."""


# --- inference: RAG and the service -------------------------------------------------------------


class InvalidRequest(LLMTwinException):
    """A question or chat request the twin cannot take; `param` names the offending field."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class PromptTooLong(InvalidRequest):
    """The conversation alone does not fit the model's context window with room for the answer."""


class ServiceBusy(LLMTwinException):
    """Every generation slot and queue place is taken: retry later."""


class ModelNotFound(InvalidRequest):
    """A request names a model this service does not serve."""


class ServiceNotReady(LLMTwinException):
    """The service is still loading its models and stores (or failed to): /health says which."""

"""URL checks shared by the dispatcher, the engine and the crawlers."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from llm_engineering.domain.exceptions import InvalidURL, UnsupportedURL

_SCP_LIKE_GIT = re.compile(r"^[\w.-]+@[\w.-]+:[\w./~-]+$")  # git@github.com:user/repo.git
WEB_SCHEMES = {"http", "https"}
_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)
GIT_SCHEMES = {"ssh", "git", "file"}


def is_git_location(link: str) -> bool:
    """True for links only git can fetch: ssh/git/file URLs, scp-like, local paths, bundles."""
    if _SCP_LIKE_GIT.match(link):
        return True
    scheme = urlsplit(link).scheme.lower()
    if scheme in GIT_SCHEMES:
        return True
    if scheme in WEB_SCHEMES:
        return link.rstrip("/").endswith(".git")
    return scheme == "" and (link.endswith(".bundle") or Path(link).expanduser().is_dir())


def validate_link(link: str) -> str:
    """Return the stripped link, or raise a one-line error saying what is wrong with it."""
    link = link.strip()
    if not link:
        raise InvalidURL("empty link: remove the blank entry from `links` in the ETL config")
    try:
        if is_git_location(link):
            return link
        parts = urlsplit(link)
    except ValueError as exc:
        raise InvalidURL(f"{link!r} is malformed ({exc}): fix the link in the ETL config") from exc
    if not parts.scheme:
        raise InvalidURL(f"{link!r} has no scheme: write it as https://{link}")
    if parts.scheme.lower() not in WEB_SCHEMES:
        raise UnsupportedURL(
            f"{link!r} uses the unsupported scheme {parts.scheme!r}: use http(s), ssh, git or file links"
        )
    try:
        host = parts.hostname
        _ = parts.port
    except ValueError as exc:
        raise InvalidURL(f"{link!r} is malformed ({exc}): fix the link in the ETL config") from exc
    if not host or " " in link or ".." in host:
        raise InvalidURL(f"{link!r} has no valid host name: fix the link in the ETL config")
    return link


def domain_of(link: str) -> str:
    """The host a link belongs to, lower-cased and without `www.`; 'git' for non-web git sources."""
    if _SCP_LIKE_GIT.match(link):
        return link.split("@", 1)[1].split(":", 1)[0].lower()
    try:
        host = urlsplit(link).hostname
    except ValueError:
        host = None
    if host:
        host = host.lower()
        return host[4:] if host.startswith("www.") else host
    return "local"


#: query parameters that only say where a reader came from: never part of an article's identity
TRACKING_PARAMS = frozenset(
    {"source", "ref", "ref_src", "ref_url", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid",
     "igshid", "_hsenc", "_hsmi", "mkt_tok", "cmpid", "sk"}
)  # fmt: skip
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_link(link: str, *, force_https: bool = False, keep_query: bool = True) -> str:
    """A web link's identity, so that one article is one document however it was written.

    Scheme and host lower-cased, the default port, user info, fragment, final slash and tracking
    parameters (`utm_*`, `?source=`, ...) dropped; other query parameters kept in their order.
    `force_https` and `keep_query=False` are for sites that serve every article that way (Medium).
    Non-web links (git, local paths) are returned stripped and otherwise unchanged.
    """
    link = link.strip()
    try:
        parts = urlsplit(link)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return link
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES or not host or is_git_location(link):
        return link
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    scheme = "https" if force_https else scheme
    query = ""
    if keep_query and parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _is_tracking(k)]
        query = parts.query if len(kept) == len(pairs) else urlencode(kept)
    return urlunsplit((scheme, netloc, parts.path.rstrip("/") or "/", query, ""))


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith("utm_")


def link_key(link: str) -> str:
    """What makes two links the same article within a run: canonical, http and https alike."""
    return canonical_link(link, force_https=True)


def redact_link(text: str) -> str:
    """`text` with the user info of every URL in it replaced by `***` (tokens never leave the run)."""
    return _USERINFO.sub(r"\g<scheme>***@", text)

"""URL checks shared by the dispatcher, the engine and the crawlers."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from llm_engineering.domain.exceptions import InvalidURL, UnsupportedURL

_SCP_LIKE_GIT = re.compile(r"^[\w.-]+@[\w.-]+:[\w./~-]+$")  # git@github.com:user/repo.git
WEB_SCHEMES = {"http", "https"}
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


def canonical_link(link: str) -> str:
    """An article's identity: https, no query (Medium adds `?source=...`), no fragment or final slash.

    The web crawler and the export importer both use it, so one story is one document.
    """
    parts = urlsplit(link.strip())
    return urlunsplit(("https", parts.netloc.lower(), parts.path.rstrip("/") or "/", "", ""))

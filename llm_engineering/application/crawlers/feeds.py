"""RSS/Atom feeds: recognise them, find them from a blog's page, and read their entries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from llm_engineering.application.crawlers.markup import primary_language
from llm_engineering.domain.exceptions import CrawlError, ErrorKind

if TYPE_CHECKING:
    from llm_engineering.application.ports import WebPage

FEED_TYPES: tuple[str, ...] = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)
_ADVERTISED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml"}
_FEED_ROOT = re.compile(rb"^(?:\s|<\?xml[^>]*>|<!--.*?-->|<\?[^>]*>)*<(?:rss|feed|rdf:RDF)\b", re.DOTALL)
_SUBSTACK_MARKERS = ("substackcdn.com", "substack.com/", 'content="substack"')


@dataclass(frozen=True)
class FeedEntry:
    """One post of a feed. `content` is its full HTML when the feed carries it, else None."""

    link: str
    title: str
    summary: str
    content: str | None
    published: datetime | None
    language: str | None = None


def is_feed(page: WebPage) -> bool:
    """True when the page is an RSS or Atom document (by media type, else by its root element)."""
    if page.content_type in _ADVERTISED_TYPES:
        return True
    if page.content_type and page.content_type not in FEED_TYPES:
        return False
    return bool(_FEED_ROOT.match(page.content[:2048].lstrip(b"\xef\xbb\xbf")))


def discover_feed_urls(page: WebPage) -> list[str]:
    """Feeds a page advertises (<link rel=alternate>), plus Substack's well-known /feed."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.text, "html.parser")
    found: list[str] = []
    for link in soup.find_all("link", href=True):
        rel = {value.lower() for value in (link.get("rel") or [])}
        media_type = str(link.get("type", "")).split(";", 1)[0].strip().lower()
        if "alternate" in rel and media_type in _ADVERTISED_TYPES:
            found.append(urljoin(page.url, str(link["href"]).strip()))
    if _looks_like_substack(page):
        parts = urlsplit(page.url)
        found.append(f"{parts.scheme}://{parts.netloc}/feed")
    return list(dict.fromkeys(found))


def parse_feed(page: WebPage) -> list[FeedEntry]:
    """The entries of an RSS/Atom feed, in feed order; links are made absolute."""
    import feedparser

    parsed = feedparser.parse(
        page.content,
        response_headers={"content-location": page.url, "content-type": page.headers.get("content-type", "")},
    )
    if parsed.bozo and not parsed.entries and not parsed.feed:
        raise CrawlError(
            ErrorKind.NO_CONTENT,
            f"{page.url} is not a readable RSS/Atom feed ({parsed.get('bozo_exception')}): "
            "link to the blog instead",
        )
    language = primary_language(parsed.feed.get("language"))
    entries: list[FeedEntry] = []
    for item in parsed.entries:
        link = item.get("link") or next(
            (ref.get("href") for ref in item.get("links", []) if ref.get("rel") == "alternate"), None
        )
        if not link:
            continue
        content = next(
            (part.get("value") for part in item.get("content", []) if "html" in part.get("type", "html")),
            None,
        )
        entries.append(
            FeedEntry(
                link=urljoin(page.url, link),
                title=item.get("title", "").strip(),
                summary=item.get("summary", "").strip(),
                content=content.strip() if content and content.strip() else None,
                published=_published(item),
                language=language,
            )
        )
    return entries


def _published(item: dict) -> datetime | None:
    stamp = item.get("published_parsed") or item.get("updated_parsed")
    return datetime(*stamp[:6], tzinfo=UTC) if stamp else None


def _looks_like_substack(page: WebPage) -> bool:
    host = (urlsplit(page.url).hostname or "").lower()
    if host.endswith(".substack.com"):
        return True
    head = page.text[:20000].lower()
    return any(marker in head for marker in _SUBSTACK_MARKERS)

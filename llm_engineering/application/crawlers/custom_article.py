"""Any blog: one article page, or every post of a feed (given directly or advertised by the blog)."""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

from loguru import logger

from llm_engineering.application.crawlers.base import (
    BaseCrawler,
    CrawlerOptions,
    PositiveCount,
    article_document,
    checkpoint,
)
from llm_engineering.application.crawlers.extraction import (
    MIN_WORDS,
    html_fragment_to_markdown,
    html_to_article,
)
from llm_engineering.application.crawlers.feeds import (
    FEED_TYPES,
    FeedEntry,
    discover_feed_urls,
    is_feed,
    parse_feed,
)
from llm_engineering.application.crawlers.urls import canonical_link, domain_of
from llm_engineering.application.ports import HTML_TYPES, WebPage
from llm_engineering.domain.documents import ArticleDocument, ContentDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind

#: the root of a person's space on a site: /@name, /author/name, /u/name, ...
_PROFILE_PATH = re.compile(r"^/(?:@[^/]+|(?:author|authors|profile|people|user|users|u)/[^/]+)/?$", re.I)
#: summaries longer than this are excerpts of the post, not a subtitle
_MAX_SUBTITLE_CHARS = 300


def is_publication_root(url: str) -> bool:
    """True for a site's home page or a profile page, where a feed lists the person's articles."""
    path = urlsplit(url).path
    return path in ("", "/") or bool(_PROFILE_PATH.match(path))


class ArticleOptions(CrawlerOptions):
    #: at most this many articles of a feed
    max_articles: PositiveCount | None = None


class CustomArticleCrawler(BaseCrawler):
    """Articles from any blog. Options: `max_articles` per feed, under `article` (for every blog
    crawler) or the crawler's own name (for one)."""

    name: ClassVar[str] = "article"
    options_model: ClassVar[type[CrawlerOptions]] = ArticleOptions
    options: ArticleOptions
    #: the platform recorded on documents; None means the link's domain
    platform: ClassVar[str | None] = None

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        page = self.context.http.get(link, accept=HTML_TYPES + FEED_TYPES)
        if is_feed(page):
            return self.articles_from_feed(page, user)
        if is_publication_root(link) or is_publication_root(page.url):
            feed_urls = discover_feed_urls(page)
            if feed_urls:
                logger.info("{} is a publication root; crawling its feed {}", link, feed_urls[0])
                return self.articles_from_feed(self._first_readable_feed(link, feed_urls), user)
        return [self.article_from_page(link, page, user)]

    # --- building blocks shared with site-specific subclasses -----------------------------------

    def article_from_page(self, link: str, page: WebPage, user: UserDocument) -> ArticleDocument:
        return self._document(link, html_to_article(page.text, page.url), user)

    def articles_from_feed(self, feed: WebPage, user: UserDocument) -> list[ContentDocument]:
        """One document per entry (up to max_articles); an entry that fails is logged and skipped,
        and the feed fails only when every entry does."""
        entries = parse_feed(feed)
        if self.options.max_articles is not None:
            entries = entries[: self.options.max_articles]
        documents: list[ContentDocument] = []
        failures: list[CrawlError] = []
        for entry in entries:
            checkpoint(f"feed {feed.url}")
            try:
                documents.append(self._entry_article(entry, user))
            except CrawlError as exc:
                logger.warning("Skipping feed entry {} of {}: {}", entry.link, feed.url, exc)
                failures.append(exc)
        if failures and not documents:
            first = failures[0]
            raise CrawlError(
                first.kind,
                f"all {len(failures)} entries of the feed {feed.url} failed; first: {first}",
                retry_after=first.retry_after,
            )
        logger.info("Feed {}: {} articles, {} failed", feed.url, len(documents), len(failures))
        return documents

    # --- internals -----------------------------------------------------------------------------

    def _entry_article(self, entry: FeedEntry, user: UserDocument) -> ArticleDocument:
        if entry.content and len(re.findall(r"\w+", _plain_text(entry.content))) >= MIN_WORDS:
            summary = _plain_text(entry.summary)
            content = {
                "Title": entry.title or None,
                "Subtitle": summary if summary and len(summary) <= _MAX_SUBTITLE_CHARS else None,
                "Content": html_fragment_to_markdown(entry.content),
                "language": entry.language,
            }
            return self._document(entry.link, content, user)
        page = self.context.http.get(entry.link)
        content = html_to_article(page.text, page.url)
        content["Title"] = content["Title"] or entry.title or None
        content["language"] = content["language"] or entry.language
        return self._document(entry.link, content, user)

    def _first_readable_feed(self, link: str, feed_urls: list[str]) -> WebPage:
        problems: list[str] = []
        for url in feed_urls:
            try:
                page = self.context.http.get(url, accept=FEED_TYPES)
            except CrawlError as exc:
                if exc.transient:
                    raise
                problems.append(str(exc))
                continue
            if is_feed(page):
                return page
            problems.append(f"{url} is not an RSS/Atom feed")
        raise CrawlError(
            ErrorKind.NO_CONTENT,
            f"{link} advertises the feeds {feed_urls} but none can be read ({'; '.join(problems)}): "
            "link to the articles one by one instead",
        )

    @classmethod
    def option_sections(cls) -> tuple[str, ...]:
        return tuple(dict.fromkeys((CustomArticleCrawler.name, cls.name)))

    def _document(self, link: str, content: dict[str, Any], user: UserDocument) -> ArticleDocument:
        link = canonical_link(link)
        return article_document(link, content, self.platform or domain_of(link), user)


def _plain_text(html: str) -> str:
    """Text of an HTML snippet (feed summaries are HTML), whitespace collapsed."""
    if "<" not in html:
        return " ".join(html.split())
    from bs4 import BeautifulSoup

    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())

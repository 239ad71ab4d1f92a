"""Substack publications (x.substack.com or a custom domain): the root's /feed, or one /p/ post."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from llm_engineering.application.crawlers.custom_article import CustomArticleCrawler
from llm_engineering.application.crawlers.feeds import FEED_TYPES, is_feed
from llm_engineering.domain.documents import ContentDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind


class SubstackCrawler(CustomArticleCrawler):
    """Every Substack publication serves its posts, full text included, at `/feed`."""

    name: ClassVar[str] = "substack"
    platform: ClassVar[str | None] = "substack"

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        parts = urlsplit(link)
        path = parts.path.rstrip("/")
        if path == "":
            feed_url = f"{parts.scheme}://{parts.netloc}/feed"
            feed = self.context.http.get(feed_url, accept=FEED_TYPES)
            if not is_feed(feed):
                raise CrawlError(
                    ErrorKind.NO_CONTENT,
                    f"{feed_url} is not an RSS feed: is {link} really a Substack publication?",
                )
            return self.articles_from_feed(feed, user)
        if path.startswith("/p/"):
            return [self.article_from_page(link, self.context.http.get(link), user)]
        return super().extract(link, user)

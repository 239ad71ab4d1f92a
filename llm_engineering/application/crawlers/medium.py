"""Medium: articles through a real browser (Medium serves them by JavaScript), profiles through RSS.

A profile's RSS feed (`https://medium.com/feed/@user`) lists the latest articles, and Medium puts
each article's full HTML in the feed's `content:encoded`. That body is used as is: it is the same
text without a browser start, scrolling or bot checks, so a profile costs one HTTP request. An
entry whose body is missing or only a preview (member-only stories end in "Continue reading on
Medium") is opened in the browser like any article link.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from loguru import logger

from llm_engineering.application.crawlers.base import (
    BrowserCrawler,
    CrawlerOptions,
    PositiveCount,
    ScrollOptions,
    article_document,
    checkpoint,
)
from llm_engineering.application.crawlers.markup import code_blocks_to_markdown, primary_language
from llm_engineering.application.crawlers.urls import canonical_link as _canonical_link
from llm_engineering.domain.documents import ArticleDocument, ContentDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

_PROFILE_PATH = re.compile(r"^/@(?P<user>[\w.-]+)/?$")
_RESERVED_SUBDOMAINS = {"www", "medium", "help", "policy", "blog", "cdn-images-1", "miro"}
_TRUNCATED_FEED_BODY = re.compile(r"continue reading on medium", re.IGNORECASE)

# --- What is not the article: page chrome, author box, claps, follow, share, listen ---------------
_DROP_TAGS = (
    "nav", "footer", "aside", "button", "svg", "script", "style", "noscript", "form", "iframe",
    "img", "picture", "source", "video", "audio",
)  # fmt: skip
#: Medium's test ids name its UI widgets, never the story text.
_UI_TEST_IDS = (
    "storyTitle",
    "authorName",
    "authorPhoto",
    "storyReadTime",
    "storyPublishDate",
    "publicationName",
)
_UI_WIDGETS = ("clap", "follow", "share", "bookmark", "respon", "listen", "audioPlay")
_DROP_SELECTORS = (
    ".speechify-ignore",  # Medium marks its author, clap and share bars so text-to-speech skips them
    '[role="button"]',
    '[role="toolbar"]',
    '[role="navigation"]',
    *(f'[data-testid="{test_id}"]' for test_id in _UI_TEST_IDS),
    *(f'[data-testid*="{widget}" i]' for widget in _UI_WIDGETS),
    *(f'[aria-label*="{widget}" i]' for widget in _UI_WIDGETS),
)
#: Whole-element UI labels; only blocks and loose inline elements are dropped, never words in a sentence.
_UI_TEXT = re.compile(
    r"^(?:follow(?:ing)?|listen|share|clap|claps|more|sign (?:up|in)|get started|open in app|"
    r"member-only story|responses?(?: \(\d+\))?|--|·|\d+(?:\.\d+)?k)$",
    re.IGNORECASE,
)
_TEXT_BLOCKS = (
    "p", "li", "pre", "code", "blockquote", "h2", "h3", "h4", "h5", "h6", "figcaption", "td", "th",
)  # fmt: skip
_SUBTITLE_SELECTOR = ".pw-subtitle-paragraph, [class*='subtitle' i]"


class MediumOptions(ScrollOptions):
    #: at most this many articles of a profile's feed
    max_articles: PositiveCount | None = None


class MediumCrawler(BrowserCrawler):
    """A Medium article link gives one article; a profile link gives its latest articles."""

    name: ClassVar[str] = "medium"
    options_model: ClassVar[type[CrawlerOptions]] = MediumOptions
    options: MediumOptions

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        if (handle := profile_handle(link)) is not None:
            return self._crawl_profile(handle, user)
        return [self._crawl_article(link, user)]

    def _crawl_article(self, link: str, user: UserDocument) -> ArticleDocument:
        with self.browsing(link) as page:
            page.open(link)
            self.scroll(page)
            html, current_url = page.source(), page.url
        content, canonical = extract_medium_article(html, current_url)
        logger.info("Medium article {!r} from {}", content["Title"], canonical)
        return article_document(canonical, content, self.name, user)

    def _crawl_profile(self, handle: str, user: UserDocument) -> list[ContentDocument]:
        from llm_engineering.application.crawlers.feeds import FEED_TYPES, parse_feed

        feed_url = f"https://medium.com/feed/@{handle}"
        entries = parse_feed(self.context.http.get(feed_url, accept=FEED_TYPES))
        if self.options.max_articles is not None:
            entries = entries[: self.options.max_articles]
        logger.info("Medium profile @{}: {} article(s) in its feed", handle, len(entries))
        documents: list[ContentDocument] = []
        for entry in entries:
            checkpoint(f"Medium profile @{handle}")
            body = entry.content or ""
            if body.strip() and not _TRUNCATED_FEED_BODY.search(body):
                content = {
                    "Title": entry.title.strip() or None,
                    "Subtitle": None,
                    "Content": html_to_markdown(body),
                    "language": entry.language,
                }
                if not content["Content"]:
                    raise CrawlError(ErrorKind.NO_CONTENT, f"{entry.link}: the feed entry has no text")
                documents.append(article_document(canonical_link(entry.link), content, self.name, user))
            else:
                documents.append(self._crawl_article(canonical_link(entry.link), user))
        return documents


def canonical_link(link: str) -> str:
    """A Medium story's identity: Medium serves every story over https, with no query needed."""
    return _canonical_link(link, force_https=True, keep_query=False)


def profile_handle(link: str) -> str | None:
    """The user of a profile link (`medium.com/@user`, `user.medium.com/`); None for other links."""
    parts = urlsplit(link)
    host = (parts.hostname or "").lower()
    if host in ("medium.com", "www.medium.com"):
        match = _PROFILE_PATH.match(parts.path)
        return match.group("user") if match else None
    if host.endswith(".medium.com") and parts.path in ("", "/"):
        sub = host.removesuffix(".medium.com")
        return None if sub in _RESERVED_SUBDOMAINS or "." in sub else sub
    return None


def extract_medium_article(html: str, url: str) -> tuple[dict[str, Any], str]:
    """Only the article of a rendered Medium page: its content dict and its canonical link."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    article = soup.find("article")
    if article is None:
        raise CrawlError(
            ErrorKind.NO_CONTENT,
            f"{url}: no <article> on the page; it is not a Medium story (or Medium changed its layout)",
        )
    title_tag = article.find("h1")
    title = title_tag.get_text(" ", strip=True) if title_tag else _meta(soup, "og:title")
    subtitle_tag = article.select_one(_SUBTITLE_SELECTOR)
    subtitle = subtitle_tag.get_text(" ", strip=True) if subtitle_tag else None
    for tag in (title_tag, subtitle_tag):
        if tag is not None:
            tag.decompose()
    markdown = html_to_markdown(article)
    if not markdown:
        raise CrawlError(ErrorKind.NO_CONTENT, f"{url}: the article has no text (paywalled or removed?)")
    content = {
        "Title": title or None,
        "Subtitle": subtitle or None,
        "Content": markdown,
        "language": primary_language(soup.html.get("lang") if soup.html else None),
    }
    return content, canonical_link(_canonical_href(soup) or url)


def html_to_markdown(html: str | Tag) -> str:
    """Article HTML as markdown: headings, lists, quotes, fenced code; no UI widgets or images."""
    from bs4 import BeautifulSoup, NavigableString

    root = BeautifulSoup(html if isinstance(html, str) else str(html), "lxml")
    for tag in root.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in root.select(", ".join(_DROP_SELECTORS)):
        if not tag.decomposed:
            tag.decompose()
    for tag in root.find_all(["p", "span", "div", "a"]):
        if tag.decomposed or tag.find_parent(_TEXT_BLOCKS) is not None:
            continue
        if _UI_TEXT.match(tag.get_text(" ", strip=True)):
            tag.decompose()
    for text in root.find_all(string=True):
        # HTML source line breaks are spaces to a reader; only code keeps its layout.
        if type(text) is NavigableString and text.find_parent("pre") is None and "\n" in text:
            text.replace_with(NavigableString(re.sub(r"\s+", " ", text)))
    return code_blocks_to_markdown(root.body or root)


def _canonical_href(soup: BeautifulSoup) -> str | None:
    tag = soup.find("link", rel="canonical")
    href = tag.get("href") if tag else None
    return str(href) if href and str(href).startswith(("http://", "https://")) else None


def _meta(soup: BeautifulSoup, prop: str) -> str:
    tag = soup.find("meta", attrs={"property": prop})
    return str(tag.get("content", "")).strip() if tag else ""

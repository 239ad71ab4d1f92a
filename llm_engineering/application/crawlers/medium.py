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
from urllib.parse import urlsplit, urlunsplit

from loguru import logger

from llm_engineering.application.crawlers.base import BaseCrawler
from llm_engineering.application.crawlers.browser_utils import (
    browser_errors,
    raise_if_interstitial,
    scroll_until_stable,
)
from llm_engineering.application.crawlers.urls import domain_of
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


class MediumCrawler(BaseCrawler):
    """A Medium article link gives one article; a profile link gives its latest articles."""

    name: ClassVar[str] = "medium"
    needs_browser: ClassVar[bool] = True
    #: at most this many seconds for a scroll to load more while requests are still in flight
    scroll_wait: ClassVar[float] = 10.0
    #: seconds with nothing loading after a scroll that gave nothing new: the page is complete
    scroll_settle: ClassVar[float] = 0.5

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        if (handle := profile_handle(link)) is not None:
            return self._crawl_profile(handle, user)
        return [self._crawl_article(link, user)]

    def _options(self) -> dict[str, Any]:
        return self.context.options.get(self.name, {}) or {}

    def _crawl_article(self, link: str, user: UserDocument) -> ArticleDocument:
        browsers = self.context.browsers
        if browsers is None:
            raise CrawlError(ErrorKind.BROWSER, f"{link}: Medium needs a browser but the crawl has none")
        with browser_errors(link, browsers), self.context.limiter.slot(domain_of(link)):
            driver = browsers.driver()
            driver.get(link)
            raise_if_interstitial(driver, link)
            scroll_until_stable(
                driver,
                max_scrolls=self.context.settings.BROWSER_SCROLL_LIMIT,
                timeout=float(self._options().get("scroll_wait", self.scroll_wait)),
                settle=float(self._options().get("scroll_settle", self.scroll_settle)),
            )
            html, current_url = driver.page_source, driver.current_url
        content, canonical = extract_medium_article(html, current_url)
        logger.info("Medium article {!r} from {}", content["Title"], canonical)
        return ArticleDocument(
            content=content,
            platform=self.name,
            link=canonical,
            author_id=user.id,
            author_full_name=user.full_name,
        )

    def _crawl_profile(self, handle: str, user: UserDocument) -> list[ContentDocument]:
        from llm_engineering.application.crawlers.feeds import FEED_TYPES, parse_feed

        feed_url = f"https://medium.com/feed/@{handle}"
        entries = parse_feed(self.context.http.get(feed_url, accept=FEED_TYPES))
        limit = self._options().get("max_articles")
        if limit is not None:
            entries = entries[: int(limit)]
        logger.info("Medium profile @{}: {} article(s) in its feed", handle, len(entries))
        documents: list[ContentDocument] = []
        for entry in entries:
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
                documents.append(
                    ArticleDocument(
                        content=content,
                        platform=self.name,
                        link=canonical_link(entry.link),
                        author_id=user.id,
                        author_full_name=user.full_name,
                    )
                )
            else:
                documents.append(self._crawl_article(canonical_link(entry.link), user))
        return documents


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


def canonical_link(link: str) -> str:
    """An article's identity: https, no query (Medium adds `?source=...`), no fragment or final slash."""
    parts = urlsplit(link.strip())
    return urlunsplit(("https", parts.netloc.lower(), parts.path.rstrip("/") or "/", "", ""))


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
    language = (soup.html.get("lang") if soup.html else None) or None
    content = {
        "Title": title or None,
        "Subtitle": subtitle or None,
        "Content": markdown,
        "language": str(language).replace("_", "-").split("-")[0].lower() if language else None,
    }
    return content, canonical_link(_canonical_href(soup) or url)


def html_to_markdown(html: str | Tag) -> str:
    """Article HTML as markdown: headings, lists, quotes, fenced code; no UI widgets or images."""
    from bs4 import BeautifulSoup, NavigableString
    from markdownify import markdownify

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
    for pre in root.find_all("pre"):
        # Medium writes code lines as <br>-separated spans; markdown needs real newlines.
        for br in pre.find_all("br"):
            br.replace_with(NavigableString("\n"))
        language = _code_language(pre)
        code = pre.get_text()
        pre.clear()
        pre.append(NavigableString(code.rstrip("\n")))
        if language:
            pre["data-lang"] = language
    body = root.body or root
    markdown = markdownify(
        str(body),
        heading_style="ATX",
        bullets="-",
        code_language_callback=lambda el: el.get("data-lang") or "",
    )
    markdown = re.sub(r"[ \t]+\n", "\n", markdown)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()


def _code_language(pre: Tag) -> str:
    for el in (pre, *pre.find_all(True)):
        if lang := el.get("data-code-block-lang") or el.get("data-lang"):
            return str(lang)
        for cls in el.get("class") or []:
            if cls.startswith("language-"):
                return cls.removeprefix("language-")
    return ""


def _canonical_href(soup: BeautifulSoup) -> str | None:
    tag = soup.find("link", rel="canonical")
    href = tag.get("href") if tag else None
    return str(href) if href and str(href).startswith(("http://", "https://")) else None


def _meta(soup: BeautifulSoup, prop: str) -> str:
    tag = soup.find("meta", attrs={"property": prop})
    return str(tag.get("content", "")).strip() if tag else ""

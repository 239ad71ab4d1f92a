"""LinkedIn: a person's posts from their activity feed, through a logged-in browser.

LinkedIn shows activity only to members, so the crawler logs in (once per browser) with the
credentials from `.env`. The LinkedIn data export (Settings > Data privacy) gives the same posts
without a browser and without the risk of a checkpoint, and is the better choice when it is enough.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin, urlsplit

from loguru import logger

from llm_engineering.application.crawlers.base import (
    BrowserCrawler,
    CrawlerOptions,
    PositiveCount,
    ScrollOptions,
)
from llm_engineering.application.crawlers.urls import domain_of
from llm_engineering.domain.documents import ContentDocument, PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind, UnsupportedURL

if TYPE_CHECKING:
    from bs4 import Tag

    from llm_engineering.application.ports import Page

ORIGIN = "https://www.linkedin.com"
LOGIN_URL = f"{ORIGIN}/login"
_PROFILE_PATH = re.compile(r"^/in/(?P<handle>[^/]+)")
_LOGIN_PATHS = ("/login", "/uas/login", "/checkpoint/lg/", "/authwall", "/signup")
_LOGIN_ERROR_SELECTOR = "#error-for-password, #error-for-username, .form__label--error, .alert-content"
_POST = '[data-urn^="urn:li:activity:"]'
#: posts of the feed, not the posts they reshare (those are nested inside them)
POST_SELECTOR = f"{_POST}:not({_POST} *)"
_TEXT_SELECTOR = ".update-components-text, .feed-shared-update-v2__description, .feed-shared-text"
_IMAGE_SELECTOR = ".update-components-image img, .feed-shared-image img"
#: elements that start a new line of rendered text (paragraphs a blank one)
_LINE_BLOCKS = ("div", "li", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "section")


class LinkedInOptions(ScrollOptions):
    #: at most this many posts; scrolling stops once they are loaded
    max_posts: PositiveCount | None = None


class LinkedInCrawler(BrowserCrawler):
    """A profile link (`linkedin.com/in/<handle>`) gives that person's posts, one PostDocument each."""

    name: ClassVar[str] = "linkedin"
    options_model: ClassVar[type[CrawlerOptions]] = LinkedInOptions
    options: LinkedInOptions
    #: seconds the login form may take to answer
    login_timeout: ClassVar[float] = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        #: browser sessions already logged in: one login per browser, not per link
        self._logged_in: set[str] = set()

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        username, password = self._credentials()
        activity_url = activity_url_of(link)
        max_posts = self.options.max_posts
        with self.browsing(link, domain_of(activity_url)) as page:
            self._open_logged_in(page, activity_url, username, password)
            # The feed is rendered by script: give its first post time to appear.
            page.wait_for(POST_SELECTOR, timeout=self.options.scroll_wait)
            self.scroll(
                page, stop=None if max_posts is None else lambda: page.count(POST_SELECTOR) >= max_posts
            )
            html, page_url = page.source(), page.url
        documents = self._to_documents(posts_in(html, page_url), user)
        if not documents:
            raise CrawlError(
                ErrorKind.NO_CONTENT,
                f"{link}: no posts found in the activity feed (no public posts, or LinkedIn changed its "
                "layout); the LinkedIn data export is an alternative",
            )
        if max_posts is not None:
            documents = documents[:max_posts]
        logger.info("LinkedIn {}: {} post(s)", activity_url, len(documents))
        return documents

    def _credentials(self) -> tuple[str, str]:
        """Checked before any browser starts: without credentials there is nothing to try."""
        settings = self.context.settings
        username = settings.LINKEDIN_USERNAME.get_secret_value() if settings.LINKEDIN_USERNAME else ""
        password = settings.LINKEDIN_PASSWORD.get_secret_value() if settings.LINKEDIN_PASSWORD else ""
        if not username.strip() or not password:
            raise CrawlError(
                ErrorKind.MISSING_CREDENTIALS,
                "LinkedIn needs LINKEDIN_USERNAME and LINKEDIN_PASSWORD in .env, "
                "or use the LinkedIn data export instead",
            )
        return username.strip(), password

    def _open_logged_in(self, page: Page, url: str, username: str, password: str) -> None:
        """Open `url` as a member; log in first if this browser has not, or again if the session ended."""
        for attempt in range(2):
            with self._lock:
                logged_in = page.session_id in self._logged_in
            if not logged_in:
                self._log_in(page, username, password)
            page.open(url)
            if not _on_login_page(page.url):
                return
            with self._lock:
                self._logged_in.discard(page.session_id)
            logger.info("LinkedIn sent the browser back to its login page; logging in again ({})", attempt)
        raise CrawlError(
            ErrorKind.LOGIN_REQUIRED,
            f"{url}: LinkedIn still asks to log in after a successful login; "
            "log in by hand in a browser once",
        )

    def _log_in(self, page: Page, username: str, password: str) -> None:
        logger.info("Logging in to LinkedIn")  # never the username or password
        page.open(LOGIN_URL)
        if not page.count("#username"):
            if not _on_login_page(page.url):  # the browser still has a session from earlier
                self._remember_login(page)
                return
            raise CrawlError(
                ErrorKind.LOGIN_REQUIRED,
                f"{LOGIN_URL}: the login form has no #username field; LinkedIn changed its login page",
            )
        page.type("#username", username, secret=True)
        page.type("#password", password, secret=True)
        if not page.click('button[type="submit"]', navigation_timeout=self.login_timeout):
            raise CrawlError(
                ErrorKind.LOGIN_REQUIRED,
                f"{LOGIN_URL}: the login form did not answer within {self.login_timeout:.0f}s; retry later",
            )
        if page.count(_LOGIN_ERROR_SELECTOR):
            raise CrawlError(
                ErrorKind.LOGIN_REQUIRED,
                "LinkedIn rejected the login: check LINKEDIN_USERNAME and LINKEDIN_PASSWORD in .env",
            )
        if "/checkpoint/challenge" in urlsplit(page.url).path:
            raise CrawlError(
                ErrorKind.BOT_CHECK,
                "LinkedIn asked for a security check after login: log in by hand in a browser once, "
                "or use the LinkedIn data export instead",
            )
        page.ensure_content(LOGIN_URL)
        if _on_login_page(page.url):
            raise CrawlError(
                ErrorKind.LOGIN_REQUIRED,
                "LinkedIn did not accept the login: check LINKEDIN_USERNAME and LINKEDIN_PASSWORD in .env",
            )
        self._remember_login(page)
        logger.info("Logged in to LinkedIn")

    def _remember_login(self, page: Page) -> None:
        with self._lock:
            self._logged_in.add(page.session_id)

    def _to_documents(self, raw_posts: list[dict[str, Any]], user: UserDocument) -> list[ContentDocument]:
        documents: list[ContentDocument] = []
        seen: set[str] = set()
        for raw in raw_posts:
            urn = str(raw.get("urn") or "")
            text = _clean_text(str(raw.get("text") or ""))
            if urn in seen or not text:
                # A post without text (only an image or a reshare) says nothing in the person's voice.
                continue
            seen.add(urn)
            documents.append(
                PostDocument(
                    post_id=urn,
                    platform=self.name,
                    link=f"{ORIGIN}/feed/update/{urn}/",
                    content={"text": text},
                    image=raw.get("image") or None,
                    author_id=user.id,
                    author_full_name=user.full_name,
                )
            )
        skipped = len(raw_posts) - len(documents)
        if skipped:
            logger.debug("Skipped {} LinkedIn post(s) without text or seen twice", skipped)
        return documents


def posts_in(html: str, url: str) -> list[dict[str, Any]]:
    """Every loaded post of an activity page: its URN, its text as a reader sees it, its image."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    posts: list[dict[str, Any]] = []
    for element in soup.select(POST_SELECTOR):
        text = element.select_one(_TEXT_SELECTOR) or element
        image = element.select_one(_IMAGE_SELECTOR)
        src = str(image.get("src") or "") if image is not None else ""
        posts.append(
            {
                "urn": str(element.get("data-urn")),
                "text": rendered_text(text),
                "image": urljoin(url, src) if src else None,
            }
        )
    return posts


def rendered_text(element: Tag) -> str:
    """The text of an element laid out as a browser shows it (like `innerText`): source whitespace
    collapsed, a line per <br> and block, a blank line around paragraphs."""
    from bs4 import BeautifulSoup, NavigableString

    root = BeautifulSoup(str(element), "lxml")
    for node in root.find_all(string=True):
        if type(node) is NavigableString:
            node.replace_with(NavigableString(re.sub(r"[ \t\r\n\f]+", " ", node)))
    for br in root.find_all("br"):
        br.replace_with(NavigableString("\n"))
    for block in root.find_all(_LINE_BLOCKS):
        block.insert_before(NavigableString("\n"))
        block.insert_after(NavigableString("\n"))
    for paragraph in root.find_all("p"):
        paragraph.insert_before(NavigableString("\n\n"))
        paragraph.insert_after(NavigableString("\n\n"))
    lines = [line.strip(" ") for line in root.get_text().split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def activity_url_of(link: str) -> str:
    """`https://www.linkedin.com/in/<handle>/recent-activity/all/` for any link to that profile."""
    parts = urlsplit(link)
    host = (parts.hostname or "").lower()
    match = _PROFILE_PATH.match(parts.path)
    if not (host == "linkedin.com" or host.endswith(".linkedin.com")) or match is None:
        raise UnsupportedURL(
            f"{link!r} is not a LinkedIn profile: give https://www.linkedin.com/in/<handle>/ "
            "(single posts come from the profile's activity)"
        )
    return f"{ORIGIN}/in/{match.group('handle')}/recent-activity/all/"


def _on_login_page(url: str) -> bool:
    return urlsplit(url).path.startswith(_LOGIN_PATHS)


def _clean_text(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\u00a0", " ").splitlines()]
    text = "\n".join(lines).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    # LinkedIn leaves its "…see more" toggle inside the text element.
    return re.sub(r"\s*…\s*see more$", "", text, flags=re.IGNORECASE).strip()

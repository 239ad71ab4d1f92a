"""LinkedIn: a person's posts from their activity feed, through a logged-in browser.

LinkedIn shows activity only to members, so the crawler logs in (once per browser) with the
credentials from `.env`. The LinkedIn data export (Settings > Data privacy) gives the same posts
without a browser and without the risk of a checkpoint, and is the better choice when it is enough.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from loguru import logger

from llm_engineering.application.crawlers.base import BaseCrawler
from llm_engineering.application.crawlers.browser_utils import (
    browser_errors,
    raise_if_interstitial,
    scroll_until_stable,
)
from llm_engineering.application.crawlers.urls import domain_of
from llm_engineering.domain.documents import ContentDocument, PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind, UnsupportedURL

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ORIGIN = "https://www.linkedin.com"
LOGIN_URL = f"{ORIGIN}/login"
_PROFILE_PATH = re.compile(r"^/in/(?P<handle>[^/]+)")
_LOGIN_PATHS = ("/login", "/uas/login", "/checkpoint/lg/", "/authwall", "/signup")
_LOGIN_ERROR_SELECTOR = "#error-for-password, #error-for-username, .form__label--error, .alert-content"
_POST_SELECTOR = '[data-urn^="urn:li:activity:"]'
#: One call returns every loaded post: top-level activity elements only (a reshare nests another).
_POSTS_JS = f"""
const posts = [];
for (const el of document.querySelectorAll('{_POST_SELECTOR}')) {{
  if (el.parentElement && el.parentElement.closest('{_POST_SELECTOR}')) continue;
  const textEl = el.querySelector(
    '.update-components-text, .feed-shared-update-v2__description, .feed-shared-text');
  const img = el.querySelector('.update-components-image img, .feed-shared-image img');
  posts.push({{urn: el.getAttribute('data-urn'),
              text: (textEl || el).innerText || '',
              image: img ? img.src : null}});
}}
return posts;
"""
_COUNT_POSTS_JS = f"""
return [...document.querySelectorAll('{_POST_SELECTOR}')]
  .filter(el => !(el.parentElement && el.parentElement.closest('{_POST_SELECTOR}'))).length;
"""


class LinkedInCrawler(BaseCrawler):
    """A profile link (`linkedin.com/in/<handle>`) gives that person's posts, one PostDocument each."""

    name: ClassVar[str] = "linkedin"
    needs_browser: ClassVar[bool] = True
    #: at most this many seconds for a scroll to load more posts while requests are in flight
    scroll_wait: ClassVar[float] = 10.0
    #: seconds with nothing loading after a scroll that gave nothing new: the page is complete
    scroll_settle: ClassVar[float] = 0.5
    #: seconds the login form may take to answer
    login_timeout: ClassVar[float] = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        #: WebDriver session ids already logged in: one login per browser, not per link
        self._logged_in: set[str] = set()

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        username, password = self._credentials()
        activity_url = activity_url_of(link)
        options = self.context.options.get(self.name, {}) or {}
        max_posts = int(options["max_posts"]) if options.get("max_posts") is not None else None
        browsers = self.context.browsers
        if browsers is None:
            raise CrawlError(ErrorKind.BROWSER, f"{link}: LinkedIn needs a browser but the crawl has none")
        with browser_errors(link, browsers), self.context.limiter.slot(domain_of(activity_url)):
            driver = browsers.driver()
            self._open_logged_in(driver, activity_url, username, password)
            scroll_until_stable(
                driver,
                max_scrolls=self.context.settings.BROWSER_SCROLL_LIMIT,
                timeout=float(options.get("scroll_wait", self.scroll_wait)),
                settle=float(options.get("scroll_settle", self.scroll_settle)),
                stop=None if max_posts is None else lambda d: d.execute_script(_COUNT_POSTS_JS) >= max_posts,
            )
            raw_posts: list[dict[str, Any]] = driver.execute_script(_POSTS_JS)
        documents = self._to_documents(raw_posts, user)
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

    def _open_logged_in(self, driver: WebDriver, url: str, username: str, password: str) -> None:
        """Open `url` as a member; log in first if this browser has not, or again if the session ended."""
        for attempt in range(2):
            with self._lock:
                logged_in = driver.session_id in self._logged_in
            if not logged_in:
                self._log_in(driver, username, password)
            driver.get(url)
            raise_if_interstitial(driver, url)
            if not _on_login_page(driver):
                return
            with self._lock:
                self._logged_in.discard(driver.session_id)
            logger.info("LinkedIn sent the browser back to its login page; logging in again ({})", attempt)
        raise CrawlError(
            ErrorKind.LOGIN_REQUIRED,
            f"{url}: LinkedIn still asks to log in after a successful login; "
            "log in by hand in a browser once",
        )

    def _log_in(self, driver: WebDriver, username: str, password: str) -> None:
        from selenium.common.exceptions import NoSuchElementException, TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        logger.info("Logging in to LinkedIn")  # never the username or password
        driver.get(LOGIN_URL)
        raise_if_interstitial(driver, LOGIN_URL)
        try:
            username_field = driver.find_element(By.CSS_SELECTOR, "#username")
        except NoSuchElementException:
            if not _on_login_page(driver):  # the browser still has a session from earlier
                self._remember_login(driver)
                return
            raise CrawlError(
                ErrorKind.LOGIN_REQUIRED,
                f"{LOGIN_URL}: the login form has no #username field; LinkedIn changed its login page",
            ) from None
        with _hidden_from_logs(username, password):
            username_field.clear()
            username_field.send_keys(username)
            password_field = driver.find_element(By.CSS_SELECTOR, "#password")
            password_field.clear()
            password_field.send_keys(password)
            driver.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
        try:
            WebDriverWait(driver, self.login_timeout).until(expected_conditions.staleness_of(username_field))
        except TimeoutException:
            raise CrawlError(
                ErrorKind.LOGIN_REQUIRED,
                f"{LOGIN_URL}: the login form did not answer within {self.login_timeout:.0f}s; retry later",
            ) from None
        if driver.find_elements(By.CSS_SELECTOR, _LOGIN_ERROR_SELECTOR):
            raise CrawlError(
                ErrorKind.LOGIN_REQUIRED,
                "LinkedIn rejected the login: check LINKEDIN_USERNAME and LINKEDIN_PASSWORD in .env",
            )
        if "/checkpoint/challenge" in urlsplit(driver.current_url).path:
            raise CrawlError(
                ErrorKind.BOT_CHECK,
                "LinkedIn asked for a security check after login: log in by hand in a browser once, "
                "or use the LinkedIn data export instead",
            )
        raise_if_interstitial(driver, LOGIN_URL)
        if _on_login_page(driver):
            raise CrawlError(
                ErrorKind.LOGIN_REQUIRED,
                "LinkedIn did not accept the login: check LINKEDIN_USERNAME and LINKEDIN_PASSWORD in .env",
            )
        self._remember_login(driver)
        logger.info("Logged in to LinkedIn")

    def _remember_login(self, driver: WebDriver) -> None:
        with self._lock:
            self._logged_in.add(driver.session_id)

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


class _DropSecrets(logging.Filter):
    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(secret in message for secret in self._secrets)


@contextmanager
def _hidden_from_logs(*secrets: str) -> Iterator[None]:
    """Selenium logs every command's body at DEBUG, typed text included: drop records with secrets."""
    selenium_logger = logging.getLogger("selenium.webdriver.remote.remote_connection")
    secret_filter = _DropSecrets(secrets)
    selenium_logger.addFilter(secret_filter)
    try:
        yield
    finally:
        selenium_logger.removeFilter(secret_filter)


def _on_login_page(driver: WebDriver) -> bool:
    path = urlsplit(driver.current_url).path
    return path.startswith(_LOGIN_PATHS)


def _clean_text(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\u00a0", " ").splitlines()]
    text = "\n".join(lines).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    # LinkedIn leaves its "…see more" toggle inside the text element.
    return re.sub(r"\s*…\s*see more$", "", text, flags=re.IGNORECASE).strip()

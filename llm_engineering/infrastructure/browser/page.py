"""One Chrome tab as the `Page` port: open with clear errors, spot bot checks, load lazy pages.

Site crawlers see selectors and HTML only; Selenium, its waits and its exceptions stay here.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_engineering.domain.exceptions import CrawlError, ErrorKind

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

#: How challenge and error pages begin their titles (Cloudflare, Google, LinkedIn, Chrome's own).
_INTERSTITIAL_TITLES = re.compile(
    r"^(?:just a moment|attention required|verify you are human|are you a robot|security check|"
    r"security verification|checking your browser|one more step|captcha|privacy error|access denied|"
    r"too many requests)",
    re.IGNORECASE,
)
#: Phrases of challenge pages.
_INTERSTITIAL_PHRASES = re.compile(
    r"verify you are human|checking your browser|checking if the site connection is secure|"
    r"enable javascript and cookies to continue|performance (?:&|and) security by cloudflare|"
    r"unusual traffic from your (?:computer|network)|i'?m not a robot|press (?:&|and) hold|"
    r"your connection is not private|net::err_cert",
    re.IGNORECASE,
)
#: Challenge pages are short; only pages under this much text are judged, so an article that
#: discusses captchas or embeds a captcha-protected form is never mistaken for one.
_SHORT_PAGE_CHARS = 3000
#: Captcha widgets and challenge forms of Cloudflare, Google, hCaptcha and LinkedIn.
_CAPTCHA_SELECTOR = ", ".join(
    (
        'iframe[src*="captcha" i]',
        'iframe[src*="challenges.cloudflare.com"]',
        ".g-recaptcha",
        ".h-captcha",
        ".cf-turnstile",
        "#challenge-form",
        "#challenge-running",
        "#cf-challenge-running",
        '[id^="captcha" i]',
        'form[action*="captcha" i]',
    )
)
_PAGE_STATE_JS = f"""
const body = document.body ? document.body.innerText : "";
return [document.title || "", body.slice(0, {_SHORT_PAGE_CHARS}), body.length,
        document.querySelector({_CAPTCHA_SELECTOR!r}) !== null];
"""


def detect_interstitial(driver: WebDriver) -> str | None:
    """Say why the current page is a bot check, captcha or browser error page; None for a real page.

    Such pages load "successfully" (Chrome's certificate error page too), so only their content
    tells them apart; crawling them would store a challenge as if it were the person's writing.
    """
    title, body_start, body_length, has_captcha = driver.execute_script(_PAGE_STATE_JS)
    if body_length > _SHORT_PAGE_CHARS:
        return None
    if _INTERSTITIAL_TITLES.match(title.strip()):
        return f"the page title is {title.strip()!r}"
    if has_captcha:
        return "the page shows a captcha"
    if match := _INTERSTITIAL_PHRASES.search(body_start):
        return f"the page says {match.group(0)!r}"
    return None


#: Chrome's certificate error page ("Privacy error") and its net::ERR_CERT_* / ERR_SSL_* codes
_TLS_TITLES = re.compile(r"^privacy error", re.IGNORECASE)
_TLS_PHRASES = re.compile(r"your connection is not private|net::err_(?:cert|ssl|bad_ssl)\w*", re.IGNORECASE)
_TLS_CODE = re.compile(r"net::(err_(?:cert|ssl|bad_ssl)\w*)", re.IGNORECASE)
_TLS_STATE_JS = f"""
const body = document.body ? document.body.innerText : "";
return [document.title || "", body.slice(0, {_SHORT_PAGE_CHARS}), body.length];
"""


def raise_if_tls_error(driver: WebDriver, link: str) -> None:
    """Raise TLS when Chrome shows its certificate error page instead of the site."""
    from llm_engineering.infrastructure.browser.errors import TLS_HINT

    title, body_start, body_length = driver.execute_script(_TLS_STATE_JS)
    if body_length > _SHORT_PAGE_CHARS:
        return
    if _TLS_TITLES.match(title.strip()) or _TLS_PHRASES.search(body_start):
        code = _TLS_CODE.search(body_start)
        shown = f"net::{code.group(1).upper()}" if code else f"page title {title.strip()!r}"
        raise CrawlError(ErrorKind.TLS, f"{link}: {TLS_HINT} ({shown})")


def raise_if_interstitial(driver: WebDriver, link: str) -> None:
    """Raise TLS for Chrome's certificate error page, BOT_CHECK when the page is a challenge
    instead of content."""
    raise_if_tls_error(driver, link)
    if reason := detect_interstitial(driver):
        raise CrawlError(
            ErrorKind.BOT_CHECK,
            f"{link}: got a bot-check or error page instead of content ({reason}); "
            "open it in a normal browser, or retry later",
        )


#: Counts the page's in-flight fetch/XHR requests, so "stopped growing" can mean "loads nothing".
_INFLIGHT_HOOK_JS = """
if (window.__twinInflight === undefined) {
  window.__twinInflight = 0;
  const done = () => { window.__twinInflight = Math.max(0, window.__twinInflight - 1); };
  if (window.fetch) {
    const fetch = window.fetch;
    window.fetch = function (...args) {
      window.__twinInflight++;
      return fetch.apply(this, args).then(
        (r) => { r.clone().arrayBuffer().finally(done); return r; },
        (e) => { done(); throw e; });
    };
  }
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    window.__twinInflight++;
    this.addEventListener("loadend", done);
    return send.apply(this, args);
  };
}
"""
_STATE_JS = "return [document.body ? document.body.scrollHeight : 0, window.__twinInflight || 0];"


def scroll_until_stable(
    driver: WebDriver,
    *,
    max_scrolls: int,
    timeout: float,
    settle: float = 0.5,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Scroll to the bottom until the page stops growing; return how many scrolls made it grow.

    After each scroll it waits for `document.body.scrollHeight` to change, with no fixed sleeps.
    The page counts as complete once a scroll gave nothing new while no fetch/XHR request was
    in flight for `settle` seconds, or, whatever is in flight, after `timeout` seconds. So a
    finished page costs `settle`, while a slow network still gets the whole `timeout`.
    `stop()` ends it early (enough posts already loaded).
    """
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script(_INFLIGHT_HOOK_JS)
    grown = 0
    last, _ = driver.execute_script(_STATE_JS)
    while grown < max_scrolls and not (stop is not None and stop()):
        driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")
        try:
            outcome = WebDriverWait(driver, timeout, poll_frequency=0.05).until(
                _grew_or_settled(last, settle)
            )
        except TimeoutException:
            break
        if outcome == "settled":
            break
        last = outcome
        grown += 1
    logger.debug("Scrolled {} time(s); page height {}", grown, last)
    return grown


def _grew_or_settled(before: int, settle: float) -> Callable[[WebDriver], int | str | None]:
    """A WebDriverWait condition: the new height once it grows, or "settled" once idle long enough."""
    idle_since: list[float] = []

    def check(driver: WebDriver) -> int | str | None:
        height, inflight = driver.execute_script(_STATE_JS)
        if int(height) != before:
            return int(height)
        now = time.monotonic()
        if inflight:
            idle_since.clear()
        elif not idle_since:
            idle_since.append(now)
        elif now - idle_since[0] >= settle:
            return "settled"
        return None

    return check


class _DropSecrets(logging.Filter):
    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(secret in message for secret in self._secrets)


@contextmanager
def hidden_from_logs(*secrets: str) -> Iterator[None]:
    """Selenium logs every command's body at DEBUG, typed text included: drop records with secrets."""
    selenium_logger = logging.getLogger("selenium.webdriver.remote.remote_connection")
    secret_filter = _DropSecrets(secrets)
    selenium_logger.addFilter(secret_filter)
    try:
        yield
    finally:
        selenium_logger.removeFilter(secret_filter)


class SeleniumPage:
    """The `Page` port over the calling thread's WebDriver, which is asked for on first use."""

    #: seconds between two checks of a wait
    poll: float = 0.05

    def __init__(self, driver: Callable[[], WebDriver]) -> None:
        self._get_driver = driver

    @property
    def driver(self) -> WebDriver:
        return self._get_driver()

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    @property
    def session_id(self) -> str:
        return str(self.driver.session_id)

    def open(self, url: str) -> None:
        self.driver.get(url)
        self.ensure_content(url)

    def ensure_content(self, link: str) -> None:
        raise_if_interstitial(self.driver, link)

    def wait_for(self, selector: str, timeout: float) -> bool:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            WebDriverWait(self.driver, timeout, poll_frequency=self.poll).until(
                lambda driver: driver.find_elements(By.CSS_SELECTOR, selector)
            )
        except TimeoutException:
            return False
        return True

    def count(self, selector: str) -> int:
        from selenium.webdriver.common.by import By

        return len(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def type(self, selector: str, text: str, *, secret: bool = False) -> None:
        from selenium.webdriver.common.by import By

        with hidden_from_logs(text) if secret else nullcontext():
            field = self.driver.find_element(By.CSS_SELECTOR, selector)
            field.clear()
            field.send_keys(text)

    def click(self, selector: str, *, navigation_timeout: float | None = None) -> bool:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        driver = self.driver
        document = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.CSS_SELECTOR, selector).click()
        if navigation_timeout is None:
            return True
        try:
            WebDriverWait(driver, navigation_timeout, poll_frequency=self.poll).until(
                lambda _: _is_replaced(document)
            )
        except TimeoutException:
            return False
        return True

    def scroll_to_end(
        self, *, max_scrolls: int, timeout: float, settle: float, stop: Callable[[], bool] | None = None
    ) -> int:
        return scroll_until_stable(
            self.driver, max_scrolls=max_scrolls, timeout=timeout, settle=settle, stop=stop
        )

    def source(self) -> str:
        return str(self.driver.page_source)


def _is_replaced(element: Any) -> bool:
    """Whether the page navigated away from `element`'s document. Selenium's `staleness_of` only
    knows the stale-element error; mid-navigation (a redirect chain) ChromeDriver can answer
    "Node with given id does not belong to the document" instead, which means the same."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False

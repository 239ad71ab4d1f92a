"""One headless Chrome per worker thread: started on first use, reused across links, quit at the end.

Starting Chrome costs about a second and 350 MiB, a page load about 70 ms: a browser per link
would spend most of a crawl starting browsers, and one browser shared by threads is not safe.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from llm_engineering.infrastructure.browser.errors import browser_errors, first_line
from llm_engineering.infrastructure.browser.page import SeleniumPage

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from llm_engineering.settings import Settings

#: Headless, root-safe, and quiet: no sync, updates or other background traffic of Chrome's own.
BASE_ARGUMENTS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1280,1024",
)


@dataclass(eq=False)
class _Browser:
    driver: WebDriver
    profile_dir: Path
    closed: bool = False


def proxy_arguments(environ: Mapping[str, str]) -> list[str]:
    """Chrome switches for the HTTPS_PROXY/HTTP_PROXY/NO_PROXY convention other HTTP clients follow."""

    def env(name: str) -> str:
        return (environ.get(name) or environ.get(name.lower()) or "").strip()

    proxy = env("HTTPS_PROXY") or env("HTTP_PROXY")
    no_proxy = [entry.strip() for entry in env("NO_PROXY").split(",") if entry.strip()]
    if not proxy or "*" in no_proxy:
        return []
    arguments = [f"--proxy-server={proxy}"]
    if no_proxy:
        # Chrome reads a leading "." as "*." like curl does; its list is ";"-separated.
        arguments.append("--proxy-bypass-list=" + ";".join(no_proxy))
    return arguments


class ChromeBrowserProvider:
    """The `BrowserProvider` port: each worker thread gets its own Chrome, created on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._local = threading.local()
        self._lock = threading.Lock()
        self._browsers: list[_Browser] = []
        self._created = 0
        # A weak reference: the exit hook must not keep a finished provider alive.
        atexit.register(_close_at_exit, weakref.ref(self))

    @property
    def created_count(self) -> int:
        """How many Chromes this provider has started (reuse keeps it at one per thread)."""
        return self._created

    @property
    def open_count(self) -> int:
        with self._lock:
            return len(self._browsers)

    @contextmanager
    def page(self, link: str) -> Iterator[SeleniumPage]:
        """The calling thread's tab for crawling `link` (Chrome starts on the tab's first use);
        Selenium errors in the block become CrawlErrors naming `link`, a broken Chrome is replaced."""
        with browser_errors(link, self.discard):
            yield SeleniumPage(self.driver)

    def driver(self) -> WebDriver:
        """The calling thread's Chrome, started now if it has none (or its last one was closed)."""
        browser: _Browser | None = getattr(self._local, "browser", None)
        if browser is None or browser.closed:
            browser = self._start()
            self._local.browser = browser
        return browser.driver

    def discard(self) -> None:
        """Quit the calling thread's Chrome (it crashed or is stuck); the next `driver()` starts anew."""
        browser: _Browser | None = getattr(self._local, "browser", None)
        self._local.browser = None
        if browser is not None:
            self._quit(browser)

    def close_all(self) -> None:
        """Quit every Chrome of every thread and remove their temporary profiles."""
        with self._lock:
            browsers = list(self._browsers)
        for browser in browsers:
            self._quit(browser)

    def arguments(self, profile_dir: Path) -> list[str]:
        """Every Chrome switch used: the base set, the proxy from the environment, then extras."""
        return [
            *BASE_ARGUMENTS,
            f"--user-data-dir={profile_dir}",
            *proxy_arguments(os.environ),
            *shlex.split(self._settings.CHROME_EXTRA_ARGS),
        ]

    def _start(self) -> _Browser:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service

        binary = self._settings.CHROMIUM_BINARY
        if not (Path(binary).is_file() or shutil.which(binary)):
            raise CrawlError(
                ErrorKind.BROWSER,
                f"Chromium not found at {binary!r}: install it (apt-get install chromium) "
                "or set CHROMIUM_BINARY",
            )
        driver_path = self._driver_path()
        # Selenium Manager would otherwise look for drivers and send usage stats over the network.
        os.environ["SE_OFFLINE"] = "true"
        os.environ["SE_AVOID_STATS"] = "true"
        profile_dir = Path(tempfile.mkdtemp(prefix="llm-twin-chrome-"))
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for argument in self.arguments(profile_dir):
            options.add_argument(argument)
        try:
            driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        except (WebDriverException, OSError) as exc:
            shutil.rmtree(profile_dir, ignore_errors=True)
            raise CrawlError(
                ErrorKind.BROWSER,
                f"Chrome did not start ({first_line(exc)}): check CHROMIUM_BINARY={binary!r}, "
                f"CHROMEDRIVER_PATH={driver_path!r} and CHROME_EXTRA_ARGS",
            ) from exc
        browser = _Browser(driver=driver, profile_dir=profile_dir)
        try:
            driver.set_page_load_timeout(self._settings.BROWSER_PAGE_TIMEOUT)
        except WebDriverException as exc:
            self._quit(browser)
            raise CrawlError(
                ErrorKind.BROWSER, f"Chrome started but could not be configured: {first_line(exc)}"
            ) from exc
        with self._lock:
            self._browsers.append(browser)
            self._created += 1
        logger.debug("Started Chrome #{} for thread {}", self._created, threading.current_thread().name)
        return browser

    def _driver_path(self) -> str:
        """The system chromedriver; downloading one (which needs the internet) only if there is none."""
        path = self._settings.CHROMEDRIVER_PATH
        if Path(path).is_file():
            return path
        logger.warning("No chromedriver at {}; trying chromedriver_autoinstaller (needs the internet)", path)
        import chromedriver_autoinstaller

        try:
            installed = chromedriver_autoinstaller.install()
        except Exception as exc:  # the library raises bare Exceptions of many kinds
            raise CrawlError(
                ErrorKind.BROWSER,
                f"no chromedriver at {path!r} and downloading one failed ({first_line(exc)}): "
                "install chromium-driver or set CHROMEDRIVER_PATH",
            ) from exc
        if not installed:
            raise CrawlError(
                ErrorKind.BROWSER,
                f"no chromedriver at {path!r} and chromedriver_autoinstaller found none: "
                "install chromium-driver or set CHROMEDRIVER_PATH",
            )
        return str(installed)

    def _quit(self, browser: _Browser) -> None:
        with self._lock:
            if browser.closed:
                return
            browser.closed = True
            if browser in self._browsers:
                self._browsers.remove(browser)
        try:
            browser.driver.quit()
        except Exception as exc:  # cleanup of a possibly crashed browser must not hide the real error
            logger.warning("Quitting Chrome failed ({}); its processes may need killing", first_line(exc))
        finally:
            shutil.rmtree(browser.profile_dir, ignore_errors=True)


def _close_at_exit(provider_ref: weakref.ref[ChromeBrowserProvider]) -> None:
    provider = provider_ref()
    if provider is not None:
        provider.close_all()

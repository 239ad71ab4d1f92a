"""One headless Chrome per worker thread: started on first use, reused across links, quit at the end.

Starting Chrome costs about a second and 350 MiB, a page load about 70 ms: a browser per link
would spend most of a crawl starting browsers, and one browser shared by threads is not safe.
"""

from __future__ import annotations

import atexit
import os
import re
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

#: where Google service base URLs point: nothing listens there, and it never leaves the machine
_NOWHERE = "http://127.0.0.1:9"
#: Chrome features that call Google services in the background (or probe the network on their own).
QUIET_FEATURES: tuple[str, ...] = (
    "AutofillServerCommunication",
    "CertificateTransparencyComponentUpdater",
    "DialMediaRouteProvider",
    "InterestFeedContentSuggestions",
    "MediaRouter",
    "NetworkTimeServiceQuerying",
    "OptimizationGuideModelDownloading",
    "OptimizationHints",
    "OptimizationHintsFetching",
    "OptimizationTargetPrediction",
    "PreconnectToSearch",
    "PrivacySandboxSettings4",
    "SafeBrowsingEnhancedProtection",
    "Translate",
)
#: Headless, root-safe, and quiet: no sync, updates, safe browsing, metrics, field trials, search
#: engine probes or other background traffic of Chrome's own (only the crawled sites are contacted).
BASE_ARGUMENTS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-component-extensions-with-background-pages",
    "--disable-extensions",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--disable-field-trial-config",
    "--disable-search-engine-choice-screen",
    "--safebrowsing-disable-auto-update",
    "--metrics-recording-only",
    "--no-pings",
    "--no-service-autorun",
    "--password-store=basic",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1280,1024",
    # Chromium 156 (Debian 12) fetches components despite --disable-component-update: point the
    # updater at a closed port. (It also preconnects to its default search engine's start page,
    # start.duckduckgo.com; nothing tried here stops that.)
    f"--component-updater=url-source={_NOWHERE}",
    # What the switches above leave on (sign-in cookie checks, GCM check-in, search-engine
    # preconnects) talks to these base URLs: point them at a closed local port (discard).
    *(
        f"--{switch}={_NOWHERE}"
        for switch in (
            "gaia-url",
            "google-apis-url",
            "lso-url",
            "google-base-url",
            "gcm-checkin-url",
            "gcm-registration-url",
            "gcm-mcs-endpoint",
            "sync-url",
            "variations-server-url",
        )
    ),
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


def spki_hashes(pem_file: Path) -> list[str]:
    """base64 SHA-256 of the SubjectPublicKeyInfo of every certificate in a PEM file (what
    Chrome's --ignore-certificate-errors-spki-list takes; `openssl x509 -pubkey | openssl pkey
    -pubin -outform der | openssl dgst -sha256 -binary | base64` gives the same)."""
    import base64
    import hashlib
    import ssl

    try:
        text = pem_file.read_text(encoding="ascii", errors="replace")
        blocks = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S)
        hashes = [
            base64.b64encode(hashlib.sha256(_spki_of(ssl.PEM_cert_to_DER_cert(block))).digest()).decode()
            for block in blocks
        ]
    except (OSError, ValueError, IndexError) as exc:
        raise CrawlError(
            ErrorKind.BROWSER,
            f"BROWSER_CA_CERT_FILE={str(pem_file)!r} could not be read as PEM certificates ({exc}): "
            "point it at the CA's .pem/.crt file",
        ) from exc
    if not hashes:
        raise CrawlError(
            ErrorKind.BROWSER,
            f"BROWSER_CA_CERT_FILE={str(pem_file)!r} holds no PEM certificate "
            "(-----BEGIN CERTIFICATE-----): point it at the CA's .pem/.crt file",
        )
    return hashes


def _der_element(data: bytes, offset: int) -> tuple[int, int, int]:
    """(start of the content, end of the element, tag) of the DER element at `offset`."""
    tag, length = data[offset], data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise ValueError("truncated DER certificate")
    return offset, offset + length, tag


def _spki_of(certificate: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of a DER X.509 certificate (RFC 5280: the 6th field of
    tbsCertificate, or the 7th when the explicit [0] version is present)."""
    tbs, _, _ = _der_element(certificate, 0)
    offset, _, _ = _der_element(certificate, tbs)
    fields = 6 if certificate[offset] == 0xA0 else 5  # [0] version, serial, sig, issuer, validity, subject
    for _ in range(fields):
        offset = _der_element(certificate, offset)[1]
    _, end, tag = _der_element(certificate, offset)
    if tag != 0x30:
        raise ValueError("no SubjectPublicKeyInfo where RFC 5280 puts it")
    return certificate[offset:end]


def trusted_certificate_arguments(pem_file: Path | None) -> list[str]:
    """Chrome accepts a site whose presented certificate chain holds one of these certificates.

    Chromium ignores SSL_CERT_FILE, and an NSS database would need certutil; the SPKI list works
    headless with a temporary profile. It matches certificates the server sends (the leaf or the
    CA sent along with it), not a root the server leaves out.
    """
    if pem_file is None:
        return []
    return ["--ignore-certificate-errors-spki-list=" + ",".join(spki_hashes(pem_file))]


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
        """Every Chrome switch used: the base set, the proxy from the environment, the trusted
        certificates, then extras (their --disable-features are merged with ours: Chrome reads
        only the last one)."""
        extras = shlex.split(self._settings.CHROME_EXTRA_ARGS)
        features = list(QUIET_FEATURES)
        for argument in [a for a in extras if a.startswith("--disable-features=")]:
            features += [f for f in argument.split("=", 1)[1].split(",") if f and f not in features]
            extras.remove(argument)
        return [
            *BASE_ARGUMENTS,
            "--disable-features=" + ",".join(features),
            f"--user-data-dir={profile_dir}",
            *proxy_arguments(os.environ),
            *trusted_certificate_arguments(self._settings.BROWSER_CA_CERT_FILE),
            *extras,
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

"""ChromeBrowserProvider: one real Chrome per thread, reused across links, all quit at the end."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.medium import MediumCrawler
from llm_engineering.domain.documents import UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from llm_engineering.infrastructure.browser.chrome import ChromeBrowserProvider, proxy_arguments
from llm_engineering.settings import Settings
from tests.integration.crawlers_browser import sites

LINKS = [
    "https://medium.com/@jane/member-notes-on-caching-4d5e6f",
    "https://medium.com/@jane/lazy-article-1a2b3c",
]
FAST: dict = {}  # the defaults are fast: a finished page costs only the settle time


def _profile_dir(driver: object) -> str:
    return driver.capabilities["chrome"]["userDataDir"]  # type: ignore[attr-defined]


@pytest.mark.browser
@sites.needs_chromium
def test_one_chrome_per_thread_reused_across_links_and_all_quit(
    browser_settings: Settings, make_context: Callable[..., CrawlContext], user: UserDocument
) -> None:
    provider = ChromeBrowserProvider(browser_settings)
    try:
        crawler = MediumCrawler(make_context(options=FAST, browsers_=provider))
        docs = [doc for link in LINKS for doc in crawler.extract(link, user)]
        assert [d.link for d in docs] == LINKS
        assert provider.created_count == 1  # two links, one Chrome
        main_driver = provider.driver()

        barrier = threading.Barrier(2)

        def in_worker(_: int) -> tuple[str, str]:
            driver = provider.driver()
            barrier.wait(timeout=30)  # both workers alive at once: two distinct threads
            assert provider.driver() is driver
            return driver.session_id, _profile_dir(driver)

        with ThreadPoolExecutor(max_workers=2) as pool:
            worker_sessions = list(pool.map(in_worker, range(2)))

        sessions = {main_driver.session_id, *(s for s, _ in worker_sessions)}
        assert len(sessions) == 3
        assert provider.created_count == 3
        profiles = [_profile_dir(main_driver), *(p for _, p in worker_sessions)]
        assert len(sites.chrome_processes(profiles)) >= 3  # the test really sees Chrome's processes
    finally:
        provider.close_all()

    assert provider.open_count == 0
    assert sites.chrome_processes(profiles) == []
    assert not any(Path(p).exists() for p in profiles)


@pytest.mark.browser
@sites.needs_chromium
def test_discard_replaces_the_threads_chrome_and_close_all_is_not_final(browser_settings: Settings) -> None:
    provider = ChromeBrowserProvider(browser_settings)
    try:
        first = provider.driver()
        first_profile = _profile_dir(first)
        provider.discard()
        assert sites.chrome_processes([first_profile]) == []
        second = provider.driver()
        assert second.session_id != first.session_id
        provider.close_all()
        third = provider.driver()  # a provider can serve again after close_all
        assert third.session_id != second.session_id
        assert provider.created_count == 3
    finally:
        provider.close_all()
    assert provider.open_count == 0


@pytest.mark.browser
@sites.needs_chromium
def test_certificate_error_page_is_not_content(
    browser_settings: Settings, make_context: Callable[..., CrawlContext], user: UserDocument
) -> None:
    """Without --ignore-certificate-errors Chrome shows "Privacy error" and raises nothing itself:
    the page is recognised as a TLS failure with a hint, not as a bot check."""
    strict = browser_settings.model_copy(
        update={
            "CHROME_EXTRA_ARGS": browser_settings.CHROME_EXTRA_ARGS.replace("--ignore-certificate-errors", "")
        }
    )
    provider = ChromeBrowserProvider(strict)
    try:
        with pytest.raises(CrawlError) as caught:
            MediumCrawler(make_context(options=FAST, browsers_=provider)).extract(LINKS[0], user)
    finally:
        provider.close_all()
    assert caught.value.kind is ErrorKind.TLS
    assert "ERR_CERT_AUTHORITY_INVALID" in str(caught.value)
    assert "BROWSER_CA_CERT_FILE" in str(caught.value)


@pytest.mark.browser
@sites.needs_chromium
def test_unknown_host_is_a_dns_error(make_context: Callable[..., CrawlContext], user: UserDocument) -> None:
    with pytest.raises(CrawlError) as caught:
        MediumCrawler(make_context(options=FAST)).extract("https://story.example.invalid/a-story-123", user)
    assert caught.value.kind is ErrorKind.DNS


@pytest.mark.browser
@sites.needs_chromium
def test_chrome_that_cannot_start_is_a_one_line_browser_error(browser_settings: Settings) -> None:
    broken = ChromeBrowserProvider(browser_settings.model_copy(update={"CHROMIUM_BINARY": "/bin/false"}))
    with pytest.raises(CrawlError) as caught:
        broken.driver()
    assert caught.value.kind is ErrorKind.BROWSER
    assert "\n" not in str(caught.value)
    assert "/bin/false" in str(caught.value)
    assert broken.open_count == 0


def test_missing_chromium_binary_is_a_browser_error(browser_settings: Settings) -> None:
    provider = ChromeBrowserProvider(
        browser_settings.model_copy(update={"CHROMIUM_BINARY": "/nonexistent/chrome"})
    )
    with pytest.raises(CrawlError) as caught:
        provider.driver()
    assert caught.value.kind is ErrorKind.BROWSER
    assert "CHROMIUM_BINARY" in str(caught.value)
    assert provider.created_count == 0


def test_proxy_environment_becomes_chrome_switches() -> None:
    assert proxy_arguments({}) == []
    assert proxy_arguments({"https_proxy": "http://proxy:3128", "NO_PROXY": "localhost, .corp.example"}) == [
        "--proxy-server=http://proxy:3128",
        "--proxy-bypass-list=localhost;.corp.example",
    ]
    assert proxy_arguments({"HTTP_PROXY": "http://p:8080"}) == ["--proxy-server=http://p:8080"]
    assert proxy_arguments({"HTTPS_PROXY": "http://p:8080", "NO_PROXY": "*"}) == []


def test_chrome_switches_include_extras_after_the_defaults(
    browser_settings: Settings, tmp_path: Path
) -> None:
    provider = ChromeBrowserProvider(browser_settings)
    arguments = provider.arguments(tmp_path)
    assert arguments[:2] == ["--headless=new", "--no-sandbox"]
    assert f"--user-data-dir={tmp_path}" in arguments
    assert "--ignore-certificate-errors" in arguments
    rules = next(a for a in arguments if a.startswith("--host-resolver-rules="))
    assert rules.startswith("--host-resolver-rules=MAP medium.com 127.0.0.1:")  # shlex removed the quotes

"""LinkedInCrawler in real Chromium against the local www.linkedin.com stand-in."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from loguru import logger
from pydantic import SecretStr

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.linkedin import LinkedInCrawler, activity_url_of
from llm_engineering.domain.documents import PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from llm_engineering.infrastructure.browser.chrome import ChromeBrowserProvider
from llm_engineering.settings import Settings
from tests.integration.crawlers_browser import sites

pytestmark = [pytest.mark.browser, sites.needs_chromium]

PROFILE = "https://www.linkedin.com/in/jane/"
FAST: dict = {}  # the defaults are fast: a finished feed costs only the settle time
EXPECTED_IDS = [f"urn:li:activity:71000000000000000{n:02d}" for n in range(1, 16)]


@pytest.fixture
def logged_out(browsers: ChromeBrowserProvider) -> None:
    """Each test starts without LinkedIn's session cookie, as a fresh browser would."""
    browsers.driver().execute_cdp_cmd("Network.clearBrowserCookies", {})


@pytest.fixture
def captured_logs() -> Iterator[list[str]]:
    """Every loguru message, plus Selenium's own DEBUG log (which echoes typed text) routed into it."""
    messages: list[str] = []
    sink = logger.add(messages.append, level="DEBUG", format="{message}")

    class ToLoguru(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logger.opt(depth=6).log("DEBUG", record.getMessage())

    selenium_logger = logging.getLogger("selenium")
    handler, old_level = ToLoguru(), selenium_logger.level
    selenium_logger.addHandler(handler)
    selenium_logger.setLevel(logging.DEBUG)
    try:
        yield messages
    finally:
        selenium_logger.removeHandler(handler)
        selenium_logger.setLevel(old_level)
        logger.remove(sink)


def test_missing_credentials_fail_before_any_browser_starts(
    make_context: Callable[..., CrawlContext], browser_settings: Settings, user: UserDocument
) -> None:
    unstarted = ChromeBrowserProvider(browser_settings)
    context = make_context(browsers_=unstarted, LINKEDIN_USERNAME=None, LINKEDIN_PASSWORD=None)

    with pytest.raises(CrawlError) as caught:
        LinkedInCrawler(context).extract(PROFILE, user)

    assert caught.value.kind is ErrorKind.MISSING_CREDENTIALS
    assert "LINKEDIN_USERNAME" in str(caught.value)
    assert unstarted.created_count == 0


def test_checkpoint_after_login_is_a_bot_check(
    make_context: Callable[..., CrawlContext],
    user: UserDocument,
    logged_out: None,
    linkedin_site: sites.LinkedInSite,
) -> None:
    linkedin_site.clear()
    context = make_context(options=FAST, LINKEDIN_USERNAME=SecretStr(sites.LinkedInSite.CHECKPOINT_USER))

    with pytest.raises(CrawlError) as caught:
        LinkedInCrawler(context).extract(PROFILE, user)

    assert caught.value.kind is ErrorKind.BOT_CHECK
    assert any(path.startswith("/checkpoint/challenge/") for path in linkedin_site.paths())
    assert not any(path.startswith("/in/jane") for path in linkedin_site.paths())


def test_wrong_password_is_login_required(
    make_context: Callable[..., CrawlContext], user: UserDocument, logged_out: None
) -> None:
    context = make_context(options=FAST, LINKEDIN_PASSWORD=SecretStr("not-the-password"))

    with pytest.raises(CrawlError) as caught:
        LinkedInCrawler(context).extract(PROFILE, user)

    assert caught.value.kind is ErrorKind.LOGIN_REQUIRED
    assert "not-the-password" not in str(caught.value)


def test_all_posts_of_the_infinite_feed_with_stable_ids(
    make_context: Callable[..., CrawlContext],
    user: UserDocument,
    logged_out: None,
    linkedin_site: sites.LinkedInSite,
    captured_logs: list[str],
) -> None:
    crawler = LinkedInCrawler(make_context(options=FAST))
    logins_before = linkedin_site.logins

    posts = crawler.extract(PROFILE, user)

    assert [p.post_id for p in posts] == EXPECTED_IDS  # 3 batches of 5; the nested reshare is not a post
    assert all(isinstance(p, PostDocument) and p.platform == "linkedin" for p in posts)
    first = posts[0]
    assert first.link == "https://www.linkedin.com/feed/update/urn:li:activity:7100000000000000001/"
    assert first.content == {
        "text": "Post 1 by Jane: lesson number 1 about shipping software.\nSecond line of post 1."
    }
    assert first.author_id == user.id and first.author_full_name == "Jane Doe"
    assert posts[3].image == "https://media.licdn.com/dms/image/post-4.jpg"
    assert first.image is None
    assert "An older post by someone else" not in posts[2].content["text"]

    # A re-crawl on the same browser gives the same ids and does not log in again.
    again = crawler.extract(PROFILE, user)
    assert [p.post_id for p in again] == EXPECTED_IDS
    assert [p.content_hash for p in again] == [p.content_hash for p in posts]
    assert linkedin_site.logins == logins_before + 1

    # The secret never reaches a log, not even through Selenium's echo of typed text.
    assert any("Logging in to LinkedIn" in m for m in captured_logs)
    assert any("/element/" in m for m in captured_logs), "Selenium's command log was not captured"
    assert not any(sites.LinkedInSite.PASSWORD in m for m in captured_logs)
    assert not any(sites.LinkedInSite.USERNAME in m for m in captured_logs)


def test_max_posts_stops_scrolling_early(
    make_context: Callable[..., CrawlContext], user: UserDocument, linkedin_site: sites.LinkedInSite
) -> None:
    linkedin_site.clear()

    posts = LinkedInCrawler(make_context(options={"linkedin": {"max_posts": 7}})).extract(PROFILE, user)

    assert [p.post_id for p in posts] == EXPECTED_IDS[:7]
    fetched = [p for p in linkedin_site.paths() if p.startswith("/voyager/activity/jane")]
    assert fetched == ["/voyager/activity/jane?start=5"]


def test_only_profile_links_are_accepted() -> None:
    assert activity_url_of("https://linkedin.com/in/jane") == PROFILE + "recent-activity/all/"
    assert activity_url_of("https://www.linkedin.com/in/jane/details/") == PROFILE + "recent-activity/all/"
    with pytest.raises(CrawlError) as caught:
        activity_url_of("https://www.linkedin.com/company/example/")
    assert caught.value.kind is ErrorKind.UNSUPPORTED_URL

"""LinkedInCrawler on saved LinkedIn pages through a fake tab: login, feed, posts."""

from __future__ import annotations

import html
import json
from collections.abc import Callable

import pytest
from pydantic import SecretStr

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.linkedin import LOGIN_URL, LinkedInCrawler, rendered_text
from llm_engineering.domain.documents import UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from tests.unit.crawlers.conftest import FIXTURES, tab
from tests.unit.crawlers.fakes import FakePage, FakeSite

PROFILE = "https://www.linkedin.com/in/jane/"
ACTIVITY = f"{PROFILE}recent-activity/all/"
FEED = "https://www.linkedin.com/feed/"
USERNAME, PASSWORD = "jane@example.com", "correct horse battery staple"
SAVED = FIXTURES / "linkedin"
POSTS = json.loads((SAVED / "posts.json").read_text())
EXPECTED_IDS = [post["urn"] for post in POSTS]
BATCH = 5


def _posts(start: int) -> str:
    """A batch of posts as LinkedIn's feed renders them (a reshare nests the post it shares)."""
    template = (SAVED / "post.html").read_text()
    rendered = []
    for post in POSTS[start : start + BATCH]:
        extra = ""
        if "image" in post:
            extra = f'<div class="update-components-image"><img src="{html.escape(post["image"])}"></div>'
        if "reshared" in post:
            inner = post["reshared"]
            extra += (
                f'<div data-urn="{inner["urn"]}"><div class="update-components-text">'
                f"<span>{html.escape(inner['text'])}</span></div></div>"
            )
        rendered.append(template.format(urn=post["urn"], text=post["text"], extra=extra, reactions=7))
    return "\n".join(rendered)


class SavedLinkedIn(FakeSite):
    """The saved login form and activity page; the feed only for a logged-in session."""

    def __init__(self) -> None:
        batches = [_posts(start) for start in range(BATCH, len(POSTS), BATCH)]
        super().__init__(lazy={ACTIVITY: ("activity-feed", batches)}, on_click=self._submit)
        self.logins = 0
        self.logged_in = False

    def resolve(self, url: str) -> tuple[str, str]:
        if url == LOGIN_URL:
            return url, (SAVED / "login.html").read_text()
        if url == ACTIVITY and self.logged_in:
            return url, (SAVED / "activity.html").read_text().replace("<!--POSTS-->", _posts(0))
        if url == ACTIVITY:
            return self.resolve(LOGIN_URL)
        if url.startswith("https://www.linkedin.com/checkpoint/challenge/"):
            return url, (SAVED / "challenge.html").read_text()
        return url, (SAVED / "feed.html").read_text()

    def _submit(self, page: FakePage, selector: str) -> str | None:
        user, password = page.typed.get("#username"), page.typed.get("#password")
        if user == "checkpoint@example.com":
            return "https://www.linkedin.com/checkpoint/challenge/AgHq1x9fixture"
        if (user, password) == (USERNAME, PASSWORD):
            self.logins += 1
            self.logged_in = True
            return FEED
        self.pages[LOGIN_URL + "?error"] = (
            (SAVED / "login.html")
            .read_text()
            .replace("<!--PASSWORD_ERROR-->", '<div id="error-for-password">Wrong email or password.</div>')
        )
        return LOGIN_URL + "?error"


@pytest.fixture
def linkedin(make_context: Callable[..., CrawlContext]) -> Callable[..., CrawlContext]:
    def make(**kwargs: object) -> CrawlContext:
        credentials = {"LINKEDIN_USERNAME": SecretStr(USERNAME), "LINKEDIN_PASSWORD": SecretStr(PASSWORD)}
        return make_context(SavedLinkedIn(), **{**credentials, **kwargs})

    return make


def test_logs_in_once_then_reads_every_post_of_the_feed(
    linkedin: Callable[..., CrawlContext], user: UserDocument
) -> None:
    context = linkedin()
    crawler = LinkedInCrawler(context)

    posts = crawler.extract(PROFILE, user)

    assert [p.post_id for p in posts] == EXPECTED_IDS  # the nested reshare is not a post
    assert posts[0].content == {
        "text": "Post 1 by Jane: lesson number 1 about shipping software.\nSecond line of post 1."
    }
    assert posts[0].link == f"https://www.linkedin.com/feed/update/{EXPECTED_IDS[0]}/"
    assert posts[3].image == "https://media.licdn.com/dms/image/post-4.jpg" and posts[0].image is None
    assert "someone else" not in posts[2].content["text"]
    page = tab(context)
    assert page.secret_fields == {"#username", "#password"}
    assert page.waited_for and page.waited_for[0][0].startswith('[data-urn^="urn:li:activity:"]')
    again = crawler.extract(PROFILE, user)
    assert [p.content_hash for p in again] == [p.content_hash for p in posts]
    assert page.opened.count(LOGIN_URL) == 1  # one login per browser session


def test_max_posts_stops_scrolling_once_enough_are_loaded(
    linkedin: Callable[..., CrawlContext], user: UserDocument
) -> None:
    context = linkedin()
    context.options = {"linkedin": {"max_posts": 7}}

    posts = LinkedInCrawler(context).extract(PROFILE, user)

    assert [p.post_id for p in posts] == EXPECTED_IDS[:7]
    assert EXPECTED_IDS[10] not in tab(context).source()  # one scroll loaded 10 posts, enough for 7


def test_wrong_password_is_login_required_and_never_echoed(
    linkedin: Callable[..., CrawlContext], user: UserDocument
) -> None:
    with pytest.raises(CrawlError) as caught:
        LinkedInCrawler(linkedin(LINKEDIN_PASSWORD=SecretStr("not-it"))).extract(PROFILE, user)
    assert caught.value.kind is ErrorKind.LOGIN_REQUIRED
    assert "not-it" not in str(caught.value)


def test_a_checkpoint_after_login_is_a_bot_check(
    linkedin: Callable[..., CrawlContext], user: UserDocument
) -> None:
    context = linkedin(LINKEDIN_USERNAME=SecretStr("checkpoint@example.com"))
    with pytest.raises(CrawlError) as caught:
        LinkedInCrawler(context).extract(PROFILE, user)
    assert caught.value.kind is ErrorKind.BOT_CHECK
    assert ACTIVITY not in tab(context).opened


def test_rendered_text_lays_out_lines_like_a_browser() -> None:
    from bs4 import BeautifulSoup

    element = BeautifulSoup(
        "<div><span>First  line,\n  wrapped in the source.<br>Second line.</span>"
        "<p>A paragraph.</p><div>A block.</div></div>",
        "lxml",
    ).div
    assert rendered_text(element) == (
        "First line, wrapped in the source.\nSecond line.\n\nA paragraph.\n\nA block."
    )

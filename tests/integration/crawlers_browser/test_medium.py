"""MediumCrawler in real Chromium against the local medium.com stand-in."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.medium import MediumCrawler, profile_handle
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from tests.integration.crawlers_browser import sites

pytestmark = [pytest.mark.browser, sites.needs_chromium]

LAZY = "https://medium.com/@jane/lazy-article-1a2b3c"
SECOND = "https://medium.com/@jane/member-notes-on-caching-4d5e6f"
BOT_CHECK = "https://medium.com/@jane/bot-check-7a8b9c"
FAST: dict = {}  # the defaults are fast: a finished page costs only the settle time


def test_article_is_scrolled_to_the_end_and_only_the_story_is_kept(
    make_context: Callable[..., CrawlContext], user: UserDocument, medium_site: sites.MediumSite
) -> None:
    medium_site.clear()

    [doc] = MediumCrawler(make_context(options=FAST)).extract(LAZY + "?source=home", user)

    assert isinstance(doc, ArticleDocument)
    assert doc.platform == "medium"
    assert doc.link == LAZY  # canonical: no tracking query
    assert doc.author_id == user.id
    content = doc.content
    assert content["Title"] == "Building a Lazy Loader"
    assert content["Subtitle"] == "Why the body arrives only when you scroll"
    assert content["language"] == "en"
    text = content["Content"]
    # The whole story, including the two parts only a scroll fetches...
    assert "OPENING-MARKER" in text
    assert "so the page ships only its first paragraph" in text  # source line breaks are spaces
    assert "## Setting up the loader" in text
    assert "### What it costs" in text
    assert '```python\ndef load_part(n: int) -> str:\n    return fetch(f"/part-{n}")\n```' in text
    assert "- no work for readers who stop early" in text
    assert "END-MARKER" in text
    assert "The loader at work." in text
    # ...and nothing of the page around it or Medium's UI.
    for ui in ("Sign in", "Get started", "Careers", "Follow", "clap", "1.2K", "Listen", "Share", "4 min read",
               "Written by", "Building a Lazy Loader", "Why the body arrives"):  # fmt: skip
        assert ui not in text, ui
    assert {"/_/story/lazy-article-1a2b3c/part-1", "/_/story/lazy-article-1a2b3c/part-2"} <= set(
        medium_site.paths()
    )


def test_without_scrolling_the_lazy_parts_are_missing(
    make_context: Callable[..., CrawlContext], user: UserDocument
) -> None:
    """The control for the test above: the fixture really needs scrolling."""
    [doc] = MediumCrawler(make_context(options=FAST, BROWSER_SCROLL_LIMIT=0)).extract(LAZY, user)

    assert "OPENING-MARKER" in doc.content["Content"]
    assert "END-MARKER" not in doc.content["Content"]


def test_bot_check_page_is_an_error_never_content(
    make_context: Callable[..., CrawlContext], user: UserDocument
) -> None:
    with pytest.raises(CrawlError) as caught:
        MediumCrawler(make_context(options=FAST)).extract(BOT_CHECK, user)

    assert caught.value.kind is ErrorKind.BOT_CHECK
    assert "Just a moment" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_article_about_captchas_is_not_a_bot_check(
    make_context: Callable[..., CrawlContext], user: UserDocument
) -> None:
    [doc] = MediumCrawler(make_context(options=FAST)).extract(
        "https://medium.com/@jane/captcha-a-short-history-0c0c0c", user
    )

    assert doc.content["Title"] == "Captcha: A Short History"
    assert "CAPTCHA-ARTICLE-MARKER" in doc.content["Content"]
    assert "A captcha, embedded as an example." in doc.content["Content"]


@pytest.mark.parametrize("profile", ["https://medium.com/@jane", "https://jane.medium.com/"])
def test_profile_reads_the_feed_and_browses_only_preview_entries(
    profile: str,
    make_context: Callable[..., CrawlContext],
    user: UserDocument,
    medium_site: sites.MediumSite,
) -> None:
    medium_site.clear()

    docs = MediumCrawler(make_context(options=FAST)).extract(profile, user)

    assert [d.link for d in docs] == [
        "https://medium.com/@jane/feeds-carry-whole-stories-9f8e7d",
        SECOND,
    ]
    from_feed, browsed = docs
    assert from_feed.content["Title"] == "Feeds Carry Whole Stories"
    assert "FEED-BODY-MARKER" in from_feed.content["Content"]
    assert "### Why it matters" in from_feed.content["Content"]
    assert "```\ncurl https://medium.com/feed/@jane\n```" in from_feed.content["Content"]
    assert "stat?event" not in from_feed.content["Content"]
    # The member-only entry's feed body is a preview: the article page was opened instead.
    assert browsed.content["Title"] == "Member Notes on Caching"
    assert "SECOND-ARTICLE-MARKER" in browsed.content["Content"]
    assert "Member-only story" not in browsed.content["Content"]
    paths = medium_site.paths()
    assert "/feed/@jane" in paths
    assert "/@jane/member-notes-on-caching-4d5e6f" in paths
    assert not any(p.startswith("/@jane/feeds-carry-whole-stories") for p in paths)


def test_max_articles_limits_a_profile(
    make_context: Callable[..., CrawlContext], user: UserDocument, medium_site: sites.MediumSite
) -> None:
    medium_site.clear()

    docs = MediumCrawler(make_context(options={"medium": {"max_articles": 1}})).extract(
        "https://medium.com/@jane/", user
    )

    assert [d.content["Title"] for d in docs] == ["Feeds Carry Whole Stories"]
    assert "/@jane/member-notes-on-caching-4d5e6f" not in medium_site.paths()


def test_missing_article_is_no_content(make_context: Callable[..., CrawlContext], user: UserDocument) -> None:
    with pytest.raises(CrawlError) as caught:
        MediumCrawler(make_context(options=FAST)).extract("https://medium.com/@jane/gone-000000", user)

    assert caught.value.kind is ErrorKind.NO_CONTENT


def test_profile_links_are_told_apart_from_articles() -> None:
    assert profile_handle("https://medium.com/@jane") == "jane"
    assert profile_handle("https://medium.com/@jane.doe/") == "jane.doe"
    assert profile_handle("https://jane.medium.com/") == "jane"
    assert profile_handle("https://jane.medium.com/some-story-abc123") is None
    assert profile_handle(LAZY) is None
    assert profile_handle("https://medium.com/") is None
    assert profile_handle("https://www.medium.com/") is None

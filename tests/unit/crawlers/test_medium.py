"""MediumCrawler on saved Medium pages through a fake tab: selectors and extraction only."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.medium import MediumCrawler, extract_medium_article
from llm_engineering.domain.documents import UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from tests.unit.crawlers.conftest import FIXTURES, tab
from tests.unit.crawlers.fakes import FakeSite

LAZY = "https://medium.com/@jane/lazy-article-1a2b3c"
MEDIUM = FIXTURES / "medium"


def _site() -> FakeSite:
    lazy = (MEDIUM / "lazy-article.html").read_text()
    parts = [(MEDIUM / f"lazy-article.part-{n}.html").read_text() for n in (1, 2)]
    return FakeSite(
        pages={LAZY: lazy, f"{LAZY}?source=home": ("->", LAZY), "https://medium.com/@jane/bot": _challenge()},
        lazy={LAZY: ("story-body", parts)},
    )


def _challenge() -> str:
    return (MEDIUM / "bot-check.html").read_text()


def test_article_is_scrolled_and_only_the_story_is_kept(
    make_context: Callable[..., CrawlContext], user: UserDocument
) -> None:
    context = make_context(_site(), options={"medium": {"scroll_wait": 3, "scroll_settle": 0.25}})

    [doc] = MediumCrawler(context).extract(f"{LAZY}?source=home", user)

    assert doc.link == LAZY and doc.platform == "medium" and doc.author_id == user.id
    assert doc.content["Title"] == "Building a Lazy Loader"
    assert doc.content["Subtitle"] == "Why the body arrives only when you scroll"
    assert doc.content["language"] == "en"  # "en-US"
    text = doc.content["Content"]
    assert text.startswith("OPENING-MARKER")
    assert '```python\ndef load_part(n: int) -> str:\n    return fetch(f"/part-{n}")\n```' in text
    assert "END-MARKER" in text
    for ui in ("Sign in", "Follow", "1.2K", "Listen", "Share", "4 min read", "Written by"):
        assert ui not in text, ui
    # The options reached the scroll, the settings' limit too; the politeness slot was taken.
    assert tab(context).scroll_calls == [{"max_scrolls": 30, "timeout": 3.0, "settle": 0.25}]
    assert context.limiter.domains == ["medium.com"]  # type: ignore[attr-defined]


def test_without_scrolling_the_lazy_parts_are_missing(
    make_context: Callable[..., CrawlContext], user: UserDocument
) -> None:
    [doc] = MediumCrawler(make_context(_site(), BROWSER_SCROLL_LIMIT=0)).extract(LAZY, user)

    assert "OPENING-MARKER" in doc.content["Content"]
    assert "END-MARKER" not in doc.content["Content"]


def test_a_challenge_page_is_a_bot_check(
    make_context: Callable[..., CrawlContext], user: UserDocument
) -> None:
    with pytest.raises(CrawlError) as caught:
        MediumCrawler(make_context(_site())).extract("https://medium.com/@jane/bot", user)
    assert caught.value.kind is ErrorKind.BOT_CHECK


def test_a_page_without_a_story_is_no_content(
    make_context: Callable[..., CrawlContext], user: UserDocument
) -> None:
    with pytest.raises(CrawlError) as caught:
        MediumCrawler(make_context(_site())).extract("https://medium.com/@jane/gone-000000", user)
    assert caught.value.kind is ErrorKind.NO_CONTENT
    assert "\n" not in str(caught.value)


def test_saved_member_story_loses_medium_ui() -> None:
    html = (MEDIUM / "second-article.html").read_text()

    content, canonical = extract_medium_article(html, "https://medium.com/@jane/member-notes?source=feed")

    assert canonical == "https://medium.com/@jane/member-notes-on-caching-4d5e6f"
    assert content["Title"] == "Member Notes on Caching"
    assert content["Content"] == (
        "SECOND-ARTICLE-MARKER. A cache is a promise that the past still holds.\n\n"
        "## Invalidation\n\nExpire by time, or by event; never by hope."
    )

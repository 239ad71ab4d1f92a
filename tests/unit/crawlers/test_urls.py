"""A link's identity: one article is one document however its link was written."""

from __future__ import annotations

import pytest

from llm_engineering.application.crawlers.urls import canonical_link, link_key, redact_link
from llm_engineering.domain.crawl import credentials_in


@pytest.mark.parametrize(
    ("link", "canonical"),
    [
        ("HTTP://Host/ok1", "http://host/ok1"),
        ("http://host/ok1#frag", "http://host/ok1"),
        ("http://host:80/ok1/", "http://host/ok1"),
        ("https://HOST:443/a?utm_source=x&p=2&source=rss", "https://host/a?p=2"),
        ("https://host:8443/a?b=1&a=2", "https://host:8443/a?b=1&a=2"),
        ("https://user:secret@host/a", "https://host/a"),
        ("http://[::1]:8080/a#x", "http://[::1]:8080/a"),
        ("git@github.com:a/b.git", "git@github.com:a/b.git"),
        ("https://github.com/a/b.git", "https://github.com/a/b.git"),
    ],
)
def test_canonical_link(link: str, canonical: str) -> None:
    assert canonical_link(link) == canonical


def test_http_and_https_spellings_are_one_key() -> None:
    keys = {link_key(link) for link in ("HTTP://Host/ok1", "http://host:80/ok1#frag", "https://host/ok1/")}
    assert keys == {"https://host/ok1"}


def test_userinfo_is_found_and_redacted() -> None:
    assert credentials_in("https://bob:t0ken@host/repo.git")
    assert credentials_in("https://t0ken@host/repo.git")
    assert credentials_in("ssh://bob:pass@host/repo.git")
    assert not credentials_in("ssh://git@host/repo.git")  # an SSH user name is no secret
    assert not credentials_in("https://host/a@b")
    assert not credentials_in("git@github.com:a/b.git")
    text = "cloning https://bob:t0ken@host/repo.git failed"
    assert redact_link(text) == "cloning https://***@host/repo.git failed"

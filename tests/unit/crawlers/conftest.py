"""Crawlers on saved HTML through fake ports: no browser, no network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.domain.documents import UserDocument
from llm_engineering.settings import Settings
from tests.unit.crawlers.fakes import FakeBrowsers, FakePage, FakeSite, FreeLimiter

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "browser_sites"


@pytest.fixture
def user() -> UserDocument:
    return UserDocument.from_full_name("Jane Doe")


@pytest.fixture
def make_context(tmp_path: Path) -> Callable[..., CrawlContext]:
    def make(site: FakeSite, *, options: dict[str, dict] | None = None, **settings: Any) -> CrawlContext:
        return CrawlContext(
            settings=Settings(_env_file=None, DATA_DIR=tmp_path, **settings),
            http=None,  # type: ignore[arg-type]  # these crawlers only browse
            limiter=FreeLimiter(),
            browsers=FakeBrowsers(FakePage(site)),
            options=options or {},
        )

    return make


def tab(context: CrawlContext) -> FakePage:
    assert isinstance(context.browsers, FakeBrowsers)
    return context.browsers.tab

"""Fixtures for the export importers: the committed sample artifacts and a crawl context."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.domain.documents import UserDocument
from llm_engineering.settings import REPO_ROOT, Settings

SAMPLE_DIR = REPO_ROOT / "sample"
MEDIUM_ZIP = SAMPLE_DIR / "medium-export.zip"
LINKEDIN_ZIP = SAMPLE_DIR / "linkedin-export.zip"
REPO_BUNDLE = SAMPLE_DIR / "ada-sample-repo.bundle"


@pytest.fixture
def context(tmp_path: Path) -> CrawlContext:
    """The importers read local files only: no HTTP fetcher or domain limiter is needed."""
    return CrawlContext(settings=Settings(DATA_DIR=tmp_path / "data"), http=None, limiter=None)  # type: ignore[arg-type]


@pytest.fixture
def user() -> UserDocument:
    return UserDocument.from_full_name("Ada Sample")


def write_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    """A deflated zip holding `members` as given (names are not sanitised: tests need bad ones)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return path

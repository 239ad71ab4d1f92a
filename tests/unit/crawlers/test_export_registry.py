"""A new export kind is one ExportImporter subclass: routing and dispatch need no edit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import ClassVar

import pytest

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.exports import EXPORT_IMPORTERS, ExportImporter, is_export_path
from llm_engineering.domain.documents import ContentDocument, UserDocument
from llm_engineering.domain.exceptions import UnsupportedURL
from llm_engineering.settings import Settings


@pytest.fixture
def substack_export() -> Iterator[type[ExportImporter]]:
    class SubstackExportImporter(ExportImporter):
        name: ClassVar[str] = "substack_export"
        file_name_hint: ClassVar[str] = "substack"

        @classmethod
        def recognises(cls, names: list[str]) -> bool:
            return any(PurePosixPath(name).name == "posts.csv" for name in names)

        def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
            return []

    yield SubstackExportImporter
    EXPORT_IMPORTERS.pop("substack_export")


def test_a_new_kind_registers_itself_and_is_routed_and_dispatched(
    substack_export: type[ExportImporter], tmp_path: Path
) -> None:
    export = tmp_path / "my-export"
    export.mkdir()
    (export / "posts.csv").write_text("post_id,title\n", encoding="utf-8")
    (tmp_path / "substack-export.zip").write_bytes(b"damaged")
    context = CrawlContext(settings=Settings(_env_file=None, DATA_DIR=tmp_path), http=None, limiter=None)  # type: ignore[arg-type]

    assert is_export_path(str(export)) == "substack_export"
    assert is_export_path(str(tmp_path / "substack-export.zip")) == "substack_export"
    assert isinstance(CrawlerDispatcher(context).importer_for("substack_export"), substack_export)


def test_the_builtin_kinds_are_registered_and_unknown_kinds_refused(tmp_path: Path) -> None:
    assert list(EXPORT_IMPORTERS) == ["medium_export", "linkedin_export"]
    context = CrawlContext(settings=Settings(_env_file=None, DATA_DIR=tmp_path), http=None, limiter=None)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedURL, match="unknown export kind 'zip'"):
        CrawlerDispatcher(context).importer_for("zip")

"""is_export_path: a user can list an export's path and the right importer is picked."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.crawlers.exports import is_export_path
from tests.integration.exports.conftest import LINKEDIN_ZIP, MEDIUM_ZIP, REPO_BUNDLE, SAMPLE_DIR, write_zip


def test_sample_artifacts_are_recognised_by_their_contents() -> None:
    assert is_export_path(str(MEDIUM_ZIP)) == "medium_export"
    assert is_export_path(MEDIUM_ZIP.as_uri()) == "medium_export"
    assert is_export_path(str(LINKEDIN_ZIP)) == "linkedin_export"
    assert is_export_path(str(SAMPLE_DIR / "src" / "medium")) == "medium_export"
    assert is_export_path(str(SAMPLE_DIR / "src" / "linkedin")) == "linkedin_export"
    assert is_export_path(str(SAMPLE_DIR / "src" / "linkedin" / "Shares.csv")) == "linkedin_export"


def test_contents_win_over_the_file_name(tmp_path: Path) -> None:
    renamed = write_zip(
        tmp_path / "medium-looking.zip", {"data/Shares.csv": "Date,ShareLink,ShareCommentary\n"}
    )
    assert is_export_path(str(renamed)) == "linkedin_export"


@pytest.mark.parametrize(
    "link",
    [
        str(REPO_BUNDLE),
        "https://medium.com/@adasample/export.zip",
        "git@github.com:ada/sample.git",
        "/definitely/not/here/export.zip",
        "",
    ],
)
def test_other_links_are_not_exports(link: str) -> None:
    assert is_export_path(link) is None


def test_unrelated_files_are_not_exports(tmp_path: Path) -> None:
    other_zip = write_zip(tmp_path / "photos.zip", {"a.jpg": b"\xff\xd8"})
    other_csv = tmp_path / "Connections.csv"
    other_csv.write_text("First Name,Last Name\n", encoding="utf-8")
    assert is_export_path(str(other_zip)) is None
    assert is_export_path(str(other_csv)) is None
    assert is_export_path(str(tmp_path)) is None


def test_damaged_zip_is_routed_by_name_so_the_importer_can_report_it(tmp_path: Path) -> None:
    for name, kind in [("medium-export.zip", "medium_export"), ("LinkedInDataExport.zip", "linkedin_export")]:
        path = tmp_path / name
        path.write_bytes(b"not a zip")
        assert is_export_path(str(path)) == kind
    (tmp_path / "other.zip").write_bytes(b"not a zip")
    assert is_export_path(str(tmp_path / "other.zip")) is None

"""LinkedInExportImporter on the committed sample export, bare Shares.csv files and bad exports."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.exports import LinkedInExportImporter
from llm_engineering.domain.documents import PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from tests.integration.exports.conftest import LINKEDIN_ZIP, write_zip

SAMPLE_POST_IDS = [
    "urn:li:activity:7041588230196436992",
    "urn:li:share:7054821976123904000",
    "urn:li:ugcPost:7079702394567782400",
    "urn:li:activity:7107440916152524800",
    "urn:li:activity:7115964873046355968",
    "urn:li:activity:7136296411284783104",
]
HEADER = ["Date", "ShareLink", "ShareCommentary", "SharedUrl", "MediaUrl", "Visibility"]


def _csv(rows: list[list[str]], header: list[str] = HEADER, newline: str = "\n") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def test_sample_export_gives_six_posts_with_urns(context: CrawlContext, user: UserDocument) -> None:
    posts = LinkedInExportImporter(context).extract(str(LINKEDIN_ZIP), user)

    assert [p.post_id for p in posts] == SAMPLE_POST_IDS
    assert all(isinstance(p, PostDocument) and p.platform == "linkedin" for p in posts)
    assert all(p.author_id == user.id and p.author_full_name == "Ada Sample" for p in posts)
    first = posts[0]
    assert first.link == "https://www.linkedin.com/feed/update/urn%3Ali%3Aactivity%3A7041588230196436992"
    assert first.content["shared_url"] == (
        "https://medium.com/@adasample/building-a-rag-system-that-cites-its-sources-3f9c1a2b4d5e"
    )
    assert first.content["date"] == "2023-03-15 08:02:11"
    assert first.created_at == datetime(2023, 3, 15, 8, 2, 11, tzinfo=UTC)
    assert first.image is None
    assert set(first.content) == {"text", "shared_url", "date"}
    assert posts[1].content["shared_url"] is None
    assert posts[2].image == "https://media.licdn.com/dms/image/sample/ada-sample-ef-recall.png"


def test_multiline_commentary_with_quotes_and_commas_round_trips(
    context: CrawlContext, user: UserDocument
) -> None:
    texts = {
        p.post_id: p.content["text"] for p in LinkedInExportImporter(context).extract(str(LINKEDIN_ZIP), user)
    }

    assert texts["urn:li:activity:7107440916152524800"] == (
        '"Which embedding model should we use?"\n'
        '"The one you measured on your own questions."\n\n'
        "Write 50 real questions, label the right passages, compute recall@5. "
        "It takes an afternoon, and it ends the debate."
    )
    assert texts["urn:li:activity:7136296411284783104"].endswith(
        '3. Re-embed when the model changes, all of it, not "just the new docs".'
    )
    assert texts["urn:li:activity:7041588230196436992"].startswith(
        'New post: "Building a RAG System That Cites Its Sources".\n\nThe short version, for people'
    )
    assert "→" in texts["urn:li:ugcPost:7079702394567782400"]


def test_two_imports_give_the_same_post_ids_and_hashes(context: CrawlContext, user: UserDocument) -> None:
    importer = LinkedInExportImporter(context)
    first = importer.extract(str(LINKEDIN_ZIP), user)
    second = importer.extract(str(LINKEDIN_ZIP), user)
    assert [(p.identity, p.content_hash) for p in first] == [(p.identity, p.content_hash) for p in second]
    assert [p.identity for p in first] == SAMPLE_POST_IDS


def test_unpacked_folder_and_bare_shares_csv_match_the_zip(
    context: CrawlContext, user: UserDocument, tmp_path: Path
) -> None:
    with zipfile.ZipFile(LINKEDIN_ZIP) as archive:
        archive.extractall(tmp_path / "unpacked")
    importer = LinkedInExportImporter(context)

    def key(posts: list) -> list[tuple]:
        return [(p.post_id, p.content_hash, p.image) for p in posts]

    from_zip = key(importer.extract(str(LINKEDIN_ZIP), user))
    assert key(importer.extract(str(tmp_path / "unpacked"), user)) == from_zip
    assert key(importer.extract(str(tmp_path / "unpacked" / "Shares.csv"), user)) == from_zip
    assert key(importer.extract((tmp_path / "unpacked" / "Shares.csv").as_uri(), user)) == from_zip


def test_shares_csv_in_a_subfolder_among_other_csvs(
    context: CrawlContext, user: UserDocument, tmp_path: Path
) -> None:
    shares = _csv(
        [
            [
                "2024-02-01 10:00:00",
                "https://www.linkedin.com/feed/update/urn:li:activity:1",
                "Only post",
                "",
                "",
                "",
            ]
        ]
    )
    export = write_zip(
        tmp_path / "Basic_LinkedInDataExport_02-02-2024.zip",
        {
            "export/Profile.csv": "First Name,Last Name\nAda,Sample\n",
            "export/Connections.csv": "First Name,Last Name,Company\n",
            "export/Shares.csv": shares,
        },
    )
    posts = LinkedInExportImporter(context).extract(str(export), user)
    assert [(p.post_id, p.content["text"]) for p in posts] == [("urn:li:activity:1", "Only post")]


def test_bare_csv_with_bom_crlf_and_no_urn_uses_a_stable_hash_id(
    context: CrawlContext, user: UserDocument, tmp_path: Path
) -> None:
    rows = [
        ["2024-03-01 09:00:00", "", 'Line one, with a comma\r\nLine "two"', "", "", "PUBLIC"],
        ["2024-03-02 09:00:00", "", "Another post", "", "", "PUBLIC"],
        [
            "2024-03-03 09:00:00",
            "https://www.linkedin.com/feed/update/urn:li:activity:9",
            "   ",
            "",
            "",
            "PUBLIC",
        ],
    ]
    path = tmp_path / "Shares.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _csv(rows, newline="\r\n").encode("utf-8"))
    importer = LinkedInExportImporter(context)

    posts = importer.extract(str(path), user)
    again = importer.extract(str(path), user)

    assert [p.content["text"] for p in posts] == ['Line one, with a comma\nLine "two"', "Another post"]
    assert posts[0].post_id.startswith("linkedin-export:")
    assert posts[0].post_id != posts[1].post_id
    assert [p.post_id for p in posts] == [p.post_id for p in again]
    assert posts[0].link is None


def test_shares_csv_missing_a_column_is_a_bad_export_naming_the_file(
    context: CrawlContext, user: UserDocument, tmp_path: Path
) -> None:
    header = ["Date", "ShareLink", "SharedUrl", "MediaUrl", "Visibility"]
    path = tmp_path / "Shares.csv"
    path.write_text(_csv([["2024-01-01 00:00:00", "https://x", "", "", ""]], header=header), encoding="utf-8")
    with pytest.raises(CrawlError) as caught:
        LinkedInExportImporter(context).extract(str(path), user)
    assert caught.value.kind is ErrorKind.BAD_EXPORT
    assert str(path) in str(caught.value)
    assert "ShareCommentary" in str(caught.value)

    export = write_zip(tmp_path / "export.zip", {"Shares.csv": path.read_text(encoding="utf-8")})
    with pytest.raises(CrawlError) as caught:
        LinkedInExportImporter(context).extract(str(export), user)
    assert caught.value.kind is ErrorKind.BAD_EXPORT
    assert f"{export}!Shares.csv" in str(caught.value)


def test_zip_without_shares_csv_is_a_bad_export(
    context: CrawlContext, user: UserDocument, tmp_path: Path
) -> None:
    export = write_zip(tmp_path / "export.zip", {"Profile.csv": "First Name,Last Name\nAda,Sample\n"})
    with pytest.raises(CrawlError) as caught:
        LinkedInExportImporter(context).extract(str(export), user)
    assert caught.value.kind is ErrorKind.BAD_EXPORT
    assert str(export) in str(caught.value)
    assert "Shares.csv" in str(caught.value)


@pytest.mark.parametrize("name", ["linkedin-export.zip", "missing.zip"])
def test_corrupt_or_missing_zip_is_a_bad_export(
    context: CrawlContext, user: UserDocument, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    if name != "missing.zip":
        path.write_bytes(LINKEDIN_ZIP.read_bytes()[:100])
    with pytest.raises(CrawlError) as caught:
        LinkedInExportImporter(context).extract(str(path), user)
    assert caught.value.kind is ErrorKind.BAD_EXPORT
    assert str(path) in str(caught.value)


U = "https://www.linkedin.com/feed/update/urn:li:activity:"


def _import_bare(
    tmp_path: Path, text: str, context: CrawlContext, user: UserDocument
) -> tuple[list, list[str]]:
    from loguru import logger

    path = tmp_path / "Shares.csv"
    path.write_text(text, encoding="utf-8")
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        posts = LinkedInExportImporter(context).extract(str(path), user)
    finally:
        logger.remove(sink)
    return posts, warnings


def test_an_unterminated_quote_does_not_swallow_the_next_post(
    tmp_path: Path, context: CrawlContext, user: UserDocument
) -> None:
    text = (
        "Date,ShareLink,ShareCommentary\n"
        f'2024-01-01 10:00:00,{U}1,"First post, never closed\n'
        f"2024-01-02 10:00:00,{U}2,Second post\n"
        f'2024-01-03 10:00:00,{U}3,"Third, ""quoted""\n'
        'across lines"\n'
    )
    posts, warnings = _import_bare(tmp_path, text, context, user)
    assert [p.content["text"] for p in posts] == [
        "First post, never closed",
        "Second post",
        'Third, "quoted"\nacross lines',
    ]
    assert [p.post_id for p in posts] == [f"urn:li:activity:{i}" for i in (1, 2, 3)]
    assert len(warnings) == 1 and "line 2" in warnings[0] and "never closed" in warnings[0]


def test_extra_columns_and_bad_dates_are_reported_and_the_good_rows_kept(
    tmp_path: Path, context: CrawlContext, user: UserDocument
) -> None:
    text = (
        "Date,ShareLink,ShareCommentary\n"
        f"2024-01-01 10:00:00,{U}1,Good post\n"
        f"2024-01-02 10:00:00,{U}2,Unquoted, comma\n"
        f"yesterday,{U}3,Post with a bad date\n"
        f"2024-01-04 10:00:00,{U}4,Another good one\n"
    )
    posts, warnings = _import_bare(tmp_path, text, context, user)
    assert [p.post_id for p in posts] == ["urn:li:activity:1", "urn:li:activity:3", "urn:li:activity:4"]
    assert posts[0].created_at == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert len(warnings) == 2
    assert "line 3" in warnings[0] and "4 fields but the header has 3" in warnings[0]
    assert "line 4" in warnings[1] and "unreadable date 'yesterday'" in warnings[1]

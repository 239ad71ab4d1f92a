"""MediumExportImporter on the committed sample export and on broken or hostile exports."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from loguru import logger

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.exports import MediumExportImporter
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from tests.integration.exports.conftest import MEDIUM_ZIP, write_zip

TITLES = {
    "Building a RAG System That Cites Its Sources",
    "Vector Search Without the Magic",
    "Fine-Tuning a Small Model on Your Own Writing",
}

POST = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body>
<article class="h-entry"><header><h1 class="p-name">{title}</h1></header>
<section data-field="body" class="e-content"><p>{text}</p></section>
<footer>{footer}<p>Exported from <a href="https://medium.com">Medium</a>.</p></footer></article></body></html>"""


def _post(title: str, text: str = "A paragraph of body text.", footer: str = "") -> str:
    return POST.format(title=title, text=text, footer=footer)


def _by_title(documents: list) -> dict[str, ArticleDocument]:
    return {doc.content["Title"]: doc for doc in documents}


def test_sample_export_gives_three_articles_and_skips_draft_and_response(
    context: CrawlContext, user: UserDocument
) -> None:
    messages: list[str] = []
    sink = logger.add(messages.append, format="{message}")
    try:
        documents = MediumExportImporter(context).extract(str(MEDIUM_ZIP), user)
    finally:
        logger.remove(sink)

    assert len(documents) == 3
    assert all(isinstance(doc, ArticleDocument) for doc in documents)
    assert {doc.content["Title"] for doc in documents} == TITLES
    everything = "\n".join(str(doc.content) for doc in documents)
    assert "DRAFT-ONLY-MARKER" not in everything
    assert "REPLY-ONLY-MARKER" not in everything
    assert any("3 article(s)" in m and "1 draft(s)" in m and "1 untitled response(s)" in m for m in messages)


def test_sample_articles_carry_canonical_links_dates_and_author(
    context: CrawlContext, user: UserDocument
) -> None:
    articles = _by_title(MediumExportImporter(context).extract(str(MEDIUM_ZIP), user))

    rag = articles["Building a RAG System That Cites Its Sources"]
    assert rag.platform == "medium"
    assert (
        rag.link == "https://medium.com/@adasample/building-a-rag-system-that-cites-its-sources-3f9c1a2b4d5e"
    )
    assert rag.created_at == datetime(2023, 3, 14, 9, 12, 44, 102000, tzinfo=UTC)
    assert rag.author_id == user.id
    assert rag.author_full_name == "Ada Sample"
    assert rag.content["Subtitle"].startswith("Retrieval is easy to bolt on.")
    assert rag.content["language"] == "en"
    assert set(rag.content) == {"Title", "Subtitle", "Content", "language"}


def test_markdown_keeps_headings_lists_and_fenced_code_and_drops_the_footer(
    context: CrawlContext, user: UserDocument
) -> None:
    articles = _by_title(MediumExportImporter(context).extract(str(MEDIUM_ZIP), user))
    rag = articles["Building a RAG System That Cites Its Sources"].content["Content"]
    vectors = articles["Vector Search Without the Magic"].content["Content"]

    assert "### Keep the provenance with the chunk" in rag
    assert "- the **document id** and its canonical URL," in rag
    # old-style Medium code: <br>-separated lines, entities decoded, no markdown line-break spaces
    assert (
        "```\ndef build_context(chunks):\n    lines = []\n"
        "    for number, chunk in enumerate(chunks, start=1):\n" in rag
    )
    assert "if 0 < n <= len(chunks)]\n```" in rag
    assert "  \n" not in rag
    assert "Making the answer point back" not in rag, "the subtitle repeated in the body is dropped"
    # new-style Medium code: highlighted spans and a language
    assert "```python\nimport numpy as np\n\ndef top_k(matrix, query, k=10):\n" in vectors
    assert "1. **m**, the number of links per node" in vectors
    assert "ef_construct" in vectors  # underscores are not escaped
    for content in (rag, vectors):
        assert "Exported from" not in content
        assert "Canonical link" not in content
        assert not content.startswith("#"), "the title repeated in the body is dropped"


def test_unpacked_folder_and_file_url_give_the_same_articles(
    context: CrawlContext, user: UserDocument, tmp_path: Path
) -> None:
    with zipfile.ZipFile(MEDIUM_ZIP) as archive:
        archive.extractall(tmp_path / "unpacked")
    importer = MediumExportImporter(context)

    from_zip = importer.extract(str(MEDIUM_ZIP), user)
    from_folder = importer.extract(str(tmp_path / "unpacked"), user)
    from_url = importer.extract((tmp_path / "unpacked").as_uri(), user)

    def key(docs: list) -> list[tuple]:
        return sorted((d.link, d.content_hash) for d in docs)

    assert key(from_zip) == key(from_folder) == key(from_url)
    assert len(from_folder) == 3


def test_two_imports_give_the_same_identities_and_hashes(context: CrawlContext, user: UserDocument) -> None:
    importer = MediumExportImporter(context)
    first = importer.extract(str(MEDIUM_ZIP), user)
    second = importer.extract(str(MEDIUM_ZIP), user)
    assert [(d.identity, d.content_hash) for d in first] == [(d.identity, d.content_hash) for d in second]


def test_post_without_canonical_link_gets_a_stable_export_link(
    context: CrawlContext, user: UserDocument, tmp_path: Path
) -> None:
    export = write_zip(
        tmp_path / "export.zip",
        {
            "posts/2024-01-01_No-Link-abc.html": _post("No Link"),
            "posts/2024-01-02_Query-def.html": _post(
                "With Query",
                footer='<p><a href="http://Medium.com/@a/with-query-def/?source=rss#x" '
                'class="p-canonical">c</a></p>',
            ),
        },
    )
    articles = _by_title(MediumExportImporter(context).extract(str(export), user))
    assert articles["No Link"].link == "medium-export://2024-01-01_No-Link-abc.html"
    assert articles["With Query"].link == "https://medium.com/@a/with-query-def"


def test_zip_slip_entries_are_ignored_and_nothing_is_written(
    context: CrawlContext, user: UserDocument, tmp_path: Path
) -> None:
    export_dir = tmp_path / "in"
    export_dir.mkdir()
    export = write_zip(
        export_dir / "export.zip",
        {
            "posts/2024-01-01_Safe-abc.html": _post("Safe"),
            "../posts/2024-01-01_Evil-abc.html": _post("Evil one"),
            "posts/../../posts/2024-01-01_Evil-def.html": _post("Evil two"),
            "/posts/2024-01-01_Evil-ghi.html": _post("Evil three"),
        },
    )
    before = sorted(p for p in tmp_path.rglob("*"))

    documents = MediumExportImporter(context).extract(str(export), user)

    assert [d.content["Title"] for d in documents] == ["Safe"]
    assert sorted(p for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("corrupt.zip", b"PK\x03\x04 this is not really a zip file"),
        ("empty.zip", b""),
        ("truncated.zip", MEDIUM_ZIP.read_bytes()[: MEDIUM_ZIP.stat().st_size // 2]),
    ],
)
def test_unreadable_zip_is_a_bad_export_naming_the_file(
    context: CrawlContext, user: UserDocument, tmp_path: Path, name: str, data: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(CrawlError) as caught:
        MediumExportImporter(context).extract(str(path), user)
    assert caught.value.kind is ErrorKind.BAD_EXPORT
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_zip_without_posts_is_a_bad_export(context: CrawlContext, user: UserDocument, tmp_path: Path) -> None:
    export = write_zip(
        tmp_path / "medium.zip", {"README.html": "<p>hi</p>", "profile/profile.html": "<p>Ada</p>"}
    )
    with pytest.raises(CrawlError) as caught:
        MediumExportImporter(context).extract(str(export), user)
    assert caught.value.kind is ErrorKind.BAD_EXPORT
    assert str(export) in str(caught.value)
    assert "posts/*.html" in str(caught.value)


def test_missing_path_is_a_bad_export(context: CrawlContext, user: UserDocument, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "medium-export.zip"
    with pytest.raises(CrawlError) as caught:
        MediumExportImporter(context).extract(str(missing), user)
    assert caught.value.kind is ErrorKind.BAD_EXPORT
    assert str(missing) in str(caught.value)


def test_damaged_member_is_a_bad_export_naming_the_file(
    context: CrawlContext, user: UserDocument, tmp_path: Path
) -> None:
    data = bytearray(MEDIUM_ZIP.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside a stored post: the central directory still reads fine
    path = tmp_path / "medium-export.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(CrawlError) as caught:
        MediumExportImporter(context).extract(str(path), user)
    assert caught.value.kind is ErrorKind.BAD_EXPORT
    assert str(path) in str(caught.value)
    assert "damaged" in str(caught.value)

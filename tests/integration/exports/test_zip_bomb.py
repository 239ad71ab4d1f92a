"""Zip bombs: total size and member count are capped, and the import stops when the link's time
budget ends (the work itself, not only the wait for it)."""

from __future__ import annotations

import threading
import time
import zipfile
from pathlib import Path

import pytest

import llm_engineering.application.crawlers.exports.medium as medium_export
from llm_engineering.application.crawlers.base import CancelToken, CrawlContext, cancellable
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.exports import LinkedInExportImporter, MediumExportImporter
from llm_engineering.application.crawling import CrawlTarget, PoolSizes, crawl
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from llm_engineering.settings import Settings
from tests.fakes import InMemoryDocumentRepository


def _post(i: int, paragraphs: int) -> bytes:
    body = "".join(
        f"<p>Paragraph {n} of post {i}, the same words again and again.</p>" for n in range(paragraphs)
    )
    return (
        f'<html><body><article><header><h1 class="p-name">Post {i}</h1></header>'
        f'<section data-field="body">{body}</section></article></body></html>'
    ).encode()


def _bomb(path: Path, members: int, paragraphs: int) -> Path:
    """Many members of highly compressible HTML: small on disk, large unpacked."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for i in range(members):
            archive.writestr(f"posts/post-{i}.html", _post(i, paragraphs))
    return path


def _context(tmp_path: Path, **limits: int) -> CrawlContext:
    settings = Settings(_env_file=None, DATA_DIR=tmp_path / "data", **limits)
    return CrawlContext(settings=settings, http=None, limiter=None)  # type: ignore[arg-type]


def test_total_unpacked_size_is_capped(tmp_path: Path, user) -> None:
    bomb = _bomb(tmp_path / "medium-export.zip", members=40, paragraphs=4000)  # ~12 MB unpacked
    assert bomb.stat().st_size < 1024 * 1024
    context = _context(tmp_path, EXPORT_MAX_TOTAL_BYTES=4 * 1024 * 1024)
    for importer in (MediumExportImporter(context), LinkedInExportImporter(context)):
        with pytest.raises(CrawlError) as caught:
            importer.extract(str(bomb), user)
        assert caught.value.kind is ErrorKind.BAD_EXPORT
        assert "EXPORT_MAX_TOTAL_BYTES=4194304" in str(caught.value)


def test_member_count_is_capped(tmp_path: Path, user) -> None:
    bomb = _bomb(tmp_path / "medium-export.zip", members=60, paragraphs=1)
    with pytest.raises(CrawlError, match="60 files, over EXPORT_MAX_MEMBERS=50") as caught:
        MediumExportImporter(_context(tmp_path, EXPORT_MAX_MEMBERS=50)).extract(str(bomb), user)
    assert caught.value.kind is ErrorKind.BAD_EXPORT


def test_a_cancelled_import_stops_at_once(tmp_path: Path, user) -> None:
    bomb = _bomb(tmp_path / "medium-export.zip", members=5, paragraphs=10)
    token = CancelToken()
    token.cancel()
    with cancellable(token), pytest.raises(CrawlError) as caught:
        MediumExportImporter(_context(tmp_path)).extract(str(bomb), user)
    assert caught.value.kind is ErrorKind.TIMEOUT


def test_the_import_itself_stops_when_the_link_budget_ends(tmp_path: Path, user, monkeypatch) -> None:
    bomb = _bomb(tmp_path / "medium-export.zip", members=300, paragraphs=600)  # seconds of parsing
    parsed: list[float] = []
    real_parse = medium_export.parse_medium_post

    def counting_parse(*args, **kwargs):  # instrumentation only: the real parser does the work
        parsed.append(time.monotonic())
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(medium_export, "parse_medium_post", counting_parse)
    before = {t.ident for t in threading.enumerate()}
    report = crawl(
        [CrawlTarget(str(bomb), export_kind="medium_export")],
        user,
        CrawlerDispatcher(_context(tmp_path)),
        InMemoryDocumentRepository(),
        PoolSizes(http_workers=1, browser_workers=1, link_timeout=0.5),
        show_progress=False,
    )
    assert [f.kind for f in report.failed] == [ErrorKind.TIMEOUT]
    ended = time.monotonic()
    deadline = ended + 5
    while time.monotonic() < deadline and any(
        t.ident not in before and t.name.startswith("http") for t in threading.enumerate()
    ):
        time.sleep(0.05)
    assert 0 < len(parsed) < 300
    assert max(parsed) < ended + 0.5  # no post was parsed after the budget was reported spent
    assert not [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("http")]

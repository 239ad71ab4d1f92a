"""LinkedIn's data export: `Shares.csv` (in the zip, its folder, or on its own), one row per post."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import ClassVar
from urllib.parse import unquote

from loguru import logger

from llm_engineering.application.crawlers.exports.archive import export_path, open_export
from llm_engineering.application.crawlers.exports.base import ExportImporter
from llm_engineering.domain.documents import ContentDocument, PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind

SHARES_FILE = "shares.csv"
LINKEDIN_REQUIRED_COLUMNS = ("Date", "ShareLink", "ShareCommentary")
_LINKEDIN_HOWTO = (
    "download it again from LinkedIn (Settings > Data privacy > Get a copy of your data, with Posts)"
)
_URN = re.compile(r"urn:li:(?:activity|share|ugcPost):[A-Za-z0-9_-]+")


class LinkedInExportImporter(ExportImporter):
    """LinkedIn's data export (`Shares.csv`, zipped or not) -> one PostDocument per written post."""

    name: ClassVar[str] = "linkedin_export"
    file_name_hint: ClassVar[str] = "linkedin"

    @classmethod
    def recognises(cls, names: list[str]) -> bool:
        return any(PurePosixPath(name).name.lower() == SHARES_FILE for name in names)

    @classmethod
    def recognises_file(cls, path: Path) -> bool:
        """A bare Shares.csv (any name) by its header."""
        if path.suffix.lower() != ".csv":
            return False
        with path.open("rb") as handle:
            header = handle.readline(4096).decode("utf-8-sig", errors="replace")
        return "ShareCommentary" in header

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        settings = self.context.settings
        source, text = read_shares_csv(
            link, max_total_bytes=settings.EXPORT_MAX_TOTAL_BYTES, max_members=settings.EXPORT_MAX_MEMBERS
        )
        documents: list[ContentDocument] = []
        no_text = 0
        for line, row in parse_shares(text, source):
            commentary = row["ShareCommentary"].replace("\r\n", "\n").strip()
            if not commentary:
                no_text += 1  # a plain reshare says nothing in the person's voice
                continue
            date = row["Date"].strip()
            share_link = row["ShareLink"].strip()
            posted = _linkedin_date(date)
            if posted is None:
                logger.warning(
                    "LinkedIn export {}, row at line {}: unreadable date {!r}; the post is kept, dated now",
                    source,
                    line,
                    date,
                )
            post = PostDocument(
                post_id=linkedin_post_id(share_link, date, commentary),
                platform="linkedin",
                link=share_link or None,
                content={
                    "text": commentary,
                    "shared_url": row.get("SharedUrl", "").strip() or None,
                    "date": date,
                },
                image=row.get("MediaUrl", "").strip() or None,
                author_id=user.id,
                author_full_name=user.full_name,
                **({"created_at": posted} if posted else {}),
            )
            documents.append(post)
        logger.info(
            "LinkedIn export {}: {} post(s); skipped {} share(s) without text",
            source,
            len(documents),
            no_text,
        )
        return documents


def read_shares_csv(
    link: str, *, max_total_bytes: int | None = None, max_members: int | None = None
) -> tuple[str, str]:
    """(a name for messages, the text of Shares.csv) from a zip, a folder or the file itself."""
    path = export_path(link)
    if path.is_file() and path.suffix.lower() == ".csv":
        if max_total_bytes is not None and path.stat().st_size > max_total_bytes:
            raise CrawlError(
                ErrorKind.BAD_EXPORT,
                f"LinkedIn export {path} is over EXPORT_MAX_TOTAL_BYTES={max_total_bytes}: "
                "this is not a Shares.csv (or raise the limit)",
            )
        return str(path), _decode_csv(path.read_bytes(), str(path))
    with open_export(
        link,
        what="LinkedIn export",
        howto=_LINKEDIN_HOWTO,
        max_total_bytes=max_total_bytes,
        max_members=max_members,
    ) as archive:
        candidates = [n for n in archive.names() if PurePosixPath(n).name.lower() == SHARES_FILE]
        if not candidates:
            raise CrawlError(
                ErrorKind.BAD_EXPORT,
                f"LinkedIn export {archive.path} has no Shares.csv: request an export that includes "
                f"your posts, or {_LINKEDIN_HOWTO}",
            )
        name = min(candidates, key=lambda n: (n.count("/"), n))  # the top-most one
        source = f"{archive.path}!{name}" if not archive.path.is_dir() else str(archive.path / name)
        return source, _decode_csv(archive.read(name), source)


def _decode_csv(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CrawlError(
            ErrorKind.BAD_EXPORT, f"LinkedIn export {source} is not UTF-8 text ({exc}): {_LINKEDIN_HOWTO}"
        ) from exc


#: where a LinkedIn row starts: its Date, then its ShareLink (or nothing), then a comma
_ROW_START = re.compile(r'^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?,(?:"?https?://[^,"\s]*"?)?,')


def parse_shares(text: str, source: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of Shares.csv; quoted multi-line commentary and doubled quotes ("") are
    plain CSV. A damaged row is reported with its line, never merged into the next post: an
    unterminated quote ends where the next row visibly starts, and a row with more fields than
    the header is skipped."""
    records = _records(text)
    if not records:
        raise CrawlError(ErrorKind.BAD_EXPORT, f"LinkedIn export {source} is empty: {_LINKEDIN_HOWTO}")
    _, header = records[0]
    columns = [c.strip() for c in next(csv.reader([header]), [])]
    missing = [c for c in LINKEDIN_REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CrawlError(
            ErrorKind.BAD_EXPORT,
            f"LinkedIn export {source} lacks the column(s) {', '.join(missing)} "
            f"(found: {', '.join(columns) or 'none'}): {_LINKEDIN_HOWTO}",
        )
    for line, record in records[1:]:
        if not record.strip():
            continue
        if record.count('"') % 2:
            logger.warning(
                "LinkedIn export {}, row at line {}: a quote is never closed; the row ends where the "
                "next one starts (check that post's text)",
                source,
                line,
            )
            record = record.rstrip("\r\n") + '"'
        try:
            fields = next(csv.reader(io.StringIO(record, newline="")), [])
        except csv.Error as exc:
            logger.warning("LinkedIn export {}, row at line {} is not CSV ({}): skipped", source, line, exc)
            continue
        if len(fields) > len(columns):
            logger.warning(
                "LinkedIn export {}, row at line {} has {} fields but the header has {} "
                "(an unquoted comma?): skipped",
                source,
                line,
                len(fields),
                len(columns),
            )
            continue
        yield line, {column: fields[i] if i < len(fields) else "" for i, column in enumerate(columns)}


def _records(text: str) -> list[tuple[int, str]]:
    """The text cut into CSV records with their first line numbers. A line starts a record when
    every quote before it is closed, or when it visibly starts a LinkedIn row (Date, ShareLink):
    then the previous record's quote was never closed, and that record ends there."""
    records: list[tuple[int, str]] = []
    current: list[str] = []
    start = 1
    quotes = 0
    # CSV ends lines at \n, \r or \r\n only (str.splitlines would also cut at U+2028 and others)
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if current and (quotes % 2 == 0 or _ROW_START.match(line)):
            records.append((start, "".join(current)))
            current, start, quotes = [], number, 0
        current.append(line)
        quotes += line.count('"')
    if current:
        records.append((start, "".join(current)))
    return records


def linkedin_post_id(share_link: str, date: str, text: str) -> str:
    """The post's URN from its link (as the web crawler stores it), else a hash of date and text."""
    match = _URN.search(unquote(share_link))
    if match:
        return match.group(0)
    digest = hashlib.sha256(f"{date}\n{text}".encode()).hexdigest()[:32]
    return f"linkedin-export:{digest}"


def _linkedin_date(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

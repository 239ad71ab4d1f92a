"""Importers for the platforms' official data exports: Medium's zip and LinkedIn's zip/Shares.csv.

An export is the reliable way to get all of a person's writing: no login, no bot checks, no
scrolling. The "link" is a local path (or a file:// URL) to the zip, its unpacked folder or,
for LinkedIn, the bare `Shares.csv`. Zip members are read in memory, never extracted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from loguru import logger

from llm_engineering.application.crawlers.base import BaseCrawler
from llm_engineering.domain.documents import ArticleDocument, ContentDocument, PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

MEDIUM_EXPORT = "medium_export"
LINKEDIN_EXPORT = "linkedin_export"
#: a single export member larger than this is not a post: refuse it rather than fill memory
MAX_MEMBER_BYTES = 64 * 1024 * 1024
SHARES_FILE = "shares.csv"
LINKEDIN_REQUIRED_COLUMNS = ("Date", "ShareLink", "ShareCommentary")

_MEDIUM_HOWTO = "download it again from Medium (Settings > Security and apps > Download your information)"
_LINKEDIN_HOWTO = (
    "download it again from LinkedIn (Settings > Data privacy > Get a copy of your data, with Posts)"
)
_URN = re.compile(r"urn:li:(?:activity|share|ugcPost):[A-Za-z0-9_-]+")
# Medium repeats the title and subtitle inside the body, and draws dividers: drop those.
_MEDIUM_BODY_NOISE = ("h3.graf--title", "h4.graf--subtitle", "div.section-divider", "script", "style")


# --- reading an export: a zip, an unpacked folder or one file -------------------------------


def export_path(link: str) -> Path:
    """The local path a link names: a plain path (`~` expanded) or a `file://` URL."""
    link = link.strip()
    if link.lower().startswith("file://"):
        return Path(unquote(urlsplit(link).path))
    return Path(link).expanduser()


def _safe_member_name(name: str) -> str | None:
    """The member's POSIX path, or None for absolute paths and `..` (zip-slip) entries."""
    normalized = name.replace("\\", "/")
    path = PurePosixPath(normalized)
    if normalized.startswith("/") or ".." in path.parts or re.match(r"^[A-Za-z]:", normalized):
        return None
    return path.as_posix()


class ExportArchive:
    """Read-only view of an export's files, zipped or unpacked; names are POSIX paths.

    Use it as a context manager: a zip stays open between `names()` and `read()` calls.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, zipfile.ZipInfo] | None = None

    def __enter__(self) -> ExportArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def names(self) -> list[str]:
        """Every safe file name in the export, sorted; unsafe zip entries are logged and ignored."""
        if self.path.is_dir():
            root = self.path.resolve()
            return sorted(
                p.relative_to(self.path).as_posix()
                for p in self.path.rglob("*")
                if p.is_file() and p.resolve().is_relative_to(root)
            )
        return sorted(self._zip_members())

    def read(self, name: str) -> bytes:
        """The bytes of one member, read in memory (never extracted to disk)."""
        try:
            if self.path.is_dir():
                return (self.path / name).read_bytes()
            info = self._zip_members()[name]
            if info.file_size > MAX_MEMBER_BYTES:
                raise CrawlError(
                    ErrorKind.BAD_EXPORT,
                    f"export {self.path}: {name} unpacks to {info.file_size} bytes, over the "
                    f"{MAX_MEMBER_BYTES}-byte limit for one file; this is not a platform export",
                )
            assert self._zip is not None
            return self._zip.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise CrawlError(
                ErrorKind.BAD_EXPORT,
                f"export {self.path}: cannot read {name} ({exc}); the export is damaged, download it again",
            ) from exc

    def _zip_members(self) -> dict[str, zipfile.ZipInfo]:
        if self._members is None:
            self._zip = zipfile.ZipFile(self.path)
            members: dict[str, zipfile.ZipInfo] = {}
            for info in self._zip.infolist():
                if info.is_dir():
                    continue
                safe = _safe_member_name(info.filename)
                if safe is None:
                    logger.warning("Ignoring unsafe entry {!r} in export {}", info.filename, self.path)
                    continue
                members[safe] = info
            self._members = members
        return self._members

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        self._zip = None
        self._members = None


def open_export(link: str, *, what: str, howto: str) -> ExportArchive:
    """Open a zip or folder export; raise BAD_EXPORT naming the path when it cannot be read."""
    path = export_path(link)
    if not path.exists():
        raise CrawlError(ErrorKind.BAD_EXPORT, f"{what} {path} does not exist: fix the path, or {howto}")
    archive = ExportArchive(path)
    if path.is_dir():
        return archive
    try:
        archive.names()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        archive.close()
        raise CrawlError(
            ErrorKind.BAD_EXPORT, f"{what} {path} is not a readable zip ({exc}): {howto}"
        ) from exc
    return archive


# --- Medium ----------------------------------------------------------------------------------


def _is_medium_post(name: str) -> bool:
    path = PurePosixPath(name)
    return path.suffix.lower() == ".html" and path.parent.name == "posts"


class MediumExportImporter(BaseCrawler):
    """Medium's "Download your information" zip -> one ArticleDocument per published story."""

    name = MEDIUM_EXPORT

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        documents: list[ContentDocument] = []
        drafts = replies = 0
        with open_export(link, what="Medium export", howto=_MEDIUM_HOWTO) as archive:
            posts = [name for name in archive.names() if _is_medium_post(name)]
            if not posts:
                raise CrawlError(
                    ErrorKind.BAD_EXPORT,
                    f"Medium export {archive.path} holds no posts/*.html: point `exports` at the zip "
                    f"Medium emailed you (or its unpacked folder), or {_MEDIUM_HOWTO}",
                )
            for name in posts:
                file_name = PurePosixPath(name).name
                if file_name.startswith("draft_"):
                    drafts += 1
                    continue
                parsed = parse_medium_post(archive.read(name), file_name)
                if parsed is None:
                    replies += 1
                    continue
                content, canonical, published = parsed
                documents.append(
                    ArticleDocument(
                        content=content,
                        platform="medium",
                        link=canonical,
                        author_id=user.id,
                        author_full_name=user.full_name,
                        **({"created_at": published} if published else {}),
                    )
                )
        logger.info(
            "Medium export {}: {} article(s); skipped {} draft(s) and {} untitled response(s)",
            link,
            len(documents),
            drafts,
            replies,
        )
        return documents


def parse_medium_post(html: bytes, file_name: str) -> tuple[dict[str, Any], str, datetime | None] | None:
    """One exported post as (content, canonical link, published time); None for untitled responses."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    title_tag = soup.select_one("h1.p-name") or soup.select_one("header h1")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    if not title:
        return None  # a response to someone else's story: Medium exports those without a title
    subtitle_tag = soup.select_one('section[data-field="subtitle"]')
    body = soup.select_one('section[data-field="body"]') or _article_without_frame(soup)
    content = {
        "Title": title,
        "Subtitle": subtitle_tag.get_text(" ", strip=True) if subtitle_tag else None,
        "Content": medium_body_to_markdown(body) if body is not None else "",
        "language": "en",
    }
    canonical_tag = soup.select_one("a.p-canonical")
    href = str(canonical_tag.get("href") or "") if canonical_tag else ""
    canonical = canonical_link(href) if href.startswith(("http://", "https://")) else None
    return content, canonical or f"medium-export://{file_name}", _published(soup)


def _article_without_frame(soup: BeautifulSoup) -> Tag | None:
    article = soup.find("article")
    if article is None:
        return None
    for tag in article.find_all(["header", "footer"]):
        tag.decompose()
    return article


def canonical_link(link: str) -> str:
    """An article's identity, the same rule as the Medium web crawler: https, no query or fragment."""
    parts = urlsplit(link.strip())
    return urlunsplit(("https", parts.netloc.lower(), parts.path.rstrip("/") or "/", "", ""))


def _published(soup: BeautifulSoup) -> datetime | None:
    tag = soup.select_one("time.dt-published")
    value = str(tag.get("datetime") or "") if tag else ""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        logger.warning("Medium export: unreadable publication time {!r}; using the import time", value)
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def medium_body_to_markdown(body: Tag) -> str:
    """The story body as markdown: headings, lists, links and fenced code (with its language)."""
    from bs4 import BeautifulSoup, NavigableString
    from markdownify import markdownify

    root = BeautifulSoup(str(body), "lxml")
    for tag in root.select(", ".join(_MEDIUM_BODY_NOISE)):
        if not tag.decomposed:
            tag.decompose()
    for pre in root.find_all("pre"):
        # Medium writes code lines as <br>-separated (highlighted) spans; markdown needs newlines.
        for br in pre.find_all("br"):
            br.replace_with(NavigableString("\n"))
        language = pre.get("data-code-block-lang") or ""
        code = pre.get_text()
        pre.clear()
        pre.append(NavigableString(code.rstrip("\n")))
        pre.attrs = {"data-lang": language} if language else {}
    markdown = markdownify(
        str(root.body or root),
        heading_style="ATX",
        bullets="-",
        escape_underscores=False,
        escape_asterisks=False,
        code_language_callback=lambda el: el.get("data-lang") or "",
    )
    markdown = re.sub(r"[ \t]+\n", "\n", markdown)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()


# --- LinkedIn --------------------------------------------------------------------------------


class LinkedInExportImporter(BaseCrawler):
    """LinkedIn's data export (`Shares.csv`, zipped or not) -> one PostDocument per written post."""

    name = LINKEDIN_EXPORT

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        source, text = read_shares_csv(link)
        documents: list[ContentDocument] = []
        no_text = 0
        for row in parse_shares(text, source):
            commentary = row["ShareCommentary"].replace("\r\n", "\n").strip()
            if not commentary:
                no_text += 1  # a plain reshare says nothing in the person's voice
                continue
            date = row["Date"].strip()
            share_link = row["ShareLink"].strip()
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
                **({"created_at": posted} if (posted := _linkedin_date(date)) else {}),
            )
            documents.append(post)
        logger.info(
            "LinkedIn export {}: {} post(s); skipped {} share(s) without text",
            source,
            len(documents),
            no_text,
        )
        return documents


def read_shares_csv(link: str) -> tuple[str, str]:
    """(a name for messages, the text of Shares.csv) from a zip, a folder or the file itself."""
    path = export_path(link)
    if path.is_file() and path.suffix.lower() == ".csv":
        return str(path), _decode_csv(path.read_bytes(), str(path))
    with open_export(link, what="LinkedIn export", howto=_LINKEDIN_HOWTO) as archive:
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


def parse_shares(text: str, source: str) -> Iterator[dict[str, str]]:
    """Rows of Shares.csv; quoted multi-line commentary and doubled quotes ("") are plain CSV."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in LINKEDIN_REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CrawlError(
            ErrorKind.BAD_EXPORT,
            f"LinkedIn export {source} lacks the column(s) {', '.join(missing)} "
            f"(found: {', '.join(columns) or 'none'}): {_LINKEDIN_HOWTO}",
        )
    reader.fieldnames = columns
    try:
        for row in reader:
            yield {key: value or "" for key, value in row.items() if isinstance(key, str)}
    except csv.Error as exc:
        raise CrawlError(
            ErrorKind.BAD_EXPORT,
            f"LinkedIn export {source} is malformed CSV near line {reader.line_num} ({exc}): "
            f"{_LINKEDIN_HOWTO}",
        ) from exc


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


# --- sniffing --------------------------------------------------------------------------------


def is_export_path(link: str) -> str | None:
    """Which importer reads `link` ("medium_export", "linkedin_export"), or None if it is no export.

    Looks inside the zip, folder or CSV. A damaged zip is routed by its file name, so that the
    importer can report it as a bad export instead of the link being "unsupported".
    """
    if not link.strip() or urlsplit(link.strip()).scheme.lower() not in ("", "file"):
        return None
    path = export_path(link)
    try:
        if path.is_dir():
            return _kind_of_names(_shallow_names(path))
        if path.is_file() and path.suffix.lower() == ".csv":
            with path.open("rb") as handle:
                header = handle.readline(4096).decode("utf-8-sig", errors="replace")
            return LINKEDIN_EXPORT if "ShareCommentary" in header else None
        if path.is_file() and zipfile.is_zipfile(path):
            with ExportArchive(path) as archive:
                return _kind_of_names(archive.names()) or _kind_of_file_name(path)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        pass  # unreadable: the file name below decides, and the importer reports the problem
    return _kind_of_file_name(path) if path.suffix.lower() == ".zip" else None


def _shallow_names(folder: Path, depth: int = 3) -> list[str]:
    """File names at most `depth` levels down: enough for an export, cheap on a big folder."""
    names: list[str] = []
    level = [folder]
    for _ in range(depth):
        children = [child for parent in level for child in sorted(parent.iterdir())]
        names += [c.relative_to(folder).as_posix() for c in children if c.is_file()]
        level = [c for c in children if c.is_dir() and not c.is_symlink() and not c.name.startswith(".")]
    return names


def _kind_of_names(names: list[str]) -> str | None:
    if any(_is_medium_post(n) for n in names):
        return MEDIUM_EXPORT
    if any(PurePosixPath(n).name.lower() == SHARES_FILE for n in names):
        return LINKEDIN_EXPORT
    return None


def _kind_of_file_name(path: Path) -> str | None:
    name = path.name.lower()
    if "medium" in name:
        return MEDIUM_EXPORT
    if "linkedin" in name:
        return LINKEDIN_EXPORT
    return None

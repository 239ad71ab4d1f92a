"""Reading an export: a zip (members read in memory, never extracted), its unpacked folder or one file."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from loguru import logger

from llm_engineering.application.crawlers.base import checkpoint
from llm_engineering.domain.exceptions import CrawlError, ErrorKind

#: a single export member larger than this is not a post: refuse it rather than fill memory
MAX_MEMBER_BYTES = 64 * 1024 * 1024
#: members are decompressed this much at a time, the link's cancellation checked in between
_READ_CHUNK = 1024 * 1024


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

    def __init__(
        self, path: Path, *, max_total_bytes: int | None = None, max_members: int | None = None
    ) -> None:
        self.path = path
        self.max_total_bytes = max_total_bytes
        self.max_members = max_members
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
            files = [p for p in self.path.rglob("*") if p.is_file() and p.resolve().is_relative_to(root)]
            self._check_limits(len(files), sum(p.stat().st_size for p in files))
            return sorted(p.relative_to(self.path).as_posix() for p in files)
        return sorted(self._zip_members())

    def _check_limits(self, members: int, total_bytes: int) -> None:
        """A zip bomb (or the wrong folder) is refused before anything is unpacked."""
        if self.max_members is not None and members > self.max_members:
            raise CrawlError(
                ErrorKind.BAD_EXPORT,
                f"export {self.path} holds {members} files, over EXPORT_MAX_MEMBERS={self.max_members}: "
                "this is not a platform export (or raise the limit)",
            )
        if self.max_total_bytes is not None and total_bytes > self.max_total_bytes:
            raise CrawlError(
                ErrorKind.BAD_EXPORT,
                f"export {self.path} unpacks to {total_bytes} bytes, over EXPORT_MAX_TOTAL_BYTES="
                f"{self.max_total_bytes}: this is not a platform export (or raise the limit)",
            )

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
            chunks: list[bytes] = []
            with self._zip.open(info) as member:  # stops at the declared size, checks the CRC
                while chunk := member.read(_READ_CHUNK):
                    chunks.append(chunk)
                    checkpoint(f"export {self.path}")
            return b"".join(chunks)
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
            self._check_limits(len(members), sum(info.file_size for info in members.values()))
            self._members = members
        return self._members

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        self._zip = None
        self._members = None


def open_export(
    link: str, *, what: str, howto: str, max_total_bytes: int | None = None, max_members: int | None = None
) -> ExportArchive:
    """Open a zip or folder export within the size and member limits; raise BAD_EXPORT naming the
    path when it cannot be read or is over a limit."""
    path = export_path(link)
    if not path.exists():
        raise CrawlError(ErrorKind.BAD_EXPORT, f"{what} {path} does not exist: fix the path, or {howto}")
    archive = ExportArchive(path, max_total_bytes=max_total_bytes, max_members=max_members)
    try:
        archive.names()
    except CrawlError:
        archive.close()
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        archive.close()
        raise CrawlError(
            ErrorKind.BAD_EXPORT, f"{what} {path} is not a readable zip ({exc}): {howto}"
        ) from exc
    return archive


def shallow_names(folder: Path, depth: int = 3) -> list[str]:
    """File names at most `depth` levels down: enough for an export, cheap on a big folder."""
    names: list[str] = []
    level = [folder]
    for _ in range(depth):
        children = [child for parent in level for child in sorted(parent.iterdir())]
        names += [c.relative_to(folder).as_posix() for c in children if c.is_file()]
        level = [c for c in children if c.is_dir() and not c.is_symlink() and not c.name.startswith(".")]
    return names

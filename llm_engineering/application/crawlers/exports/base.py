"""What an export importer is. A new kind of export is a new ExportImporter subclass: it registers
itself under its `name`, which the ETL config's exports are routed to by `is_export_path`."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from llm_engineering.application.crawlers.base import BaseCrawler
from llm_engineering.application.crawlers.exports.archive import ExportArchive, export_path, shallow_names

#: export kind -> its importer, in the order the kinds were defined (the order they are tried in)
EXPORT_IMPORTERS: dict[str, type[ExportImporter]] = {}


class ExportImporter(BaseCrawler):
    """Reads one platform's official data export (a local zip, folder or file), never the web."""

    #: a damaged zip whose file name contains this (lower-case) is routed to this importer, so
    #: that it reports the damage instead of the link being "unsupported"
    file_name_hint: ClassVar[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            EXPORT_IMPORTERS[cls.name] = cls

    @classmethod
    def recognises(cls, names: list[str]) -> bool:
        """True when these files (POSIX paths inside a zip or folder) are this kind of export."""
        return False

    @classmethod
    def recognises_file(cls, path: Path) -> bool:
        """True when this single file (not a zip) is this kind of export on its own."""
        return False


def is_export_path(link: str) -> str | None:
    """Which importer reads `link` (its kind, e.g. "medium_export"), or None if it is no export.

    Looks inside the zip, folder or file. A damaged zip is routed by its file name, so that the
    importer can report it as a bad export instead of the link being "unsupported".
    """
    if not link.strip() or urlsplit(link.strip()).scheme.lower() not in ("", "file"):
        return None
    path = export_path(link)
    try:
        if path.is_dir():
            return _kind_of_names(shallow_names(path))
        if path.is_file() and zipfile.is_zipfile(path):
            with ExportArchive(path) as archive:
                return _kind_of_names(archive.names()) or _kind_of_file_name(path)
        if path.is_file():
            kind = next(
                (k for k, importer in EXPORT_IMPORTERS.items() if importer.recognises_file(path)), None
            )
            if kind is not None or path.suffix.lower() != ".zip":
                return kind
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        pass  # unreadable: the file name below decides, and the importer reports the problem
    return _kind_of_file_name(path) if path.suffix.lower() == ".zip" else None


def _kind_of_names(names: list[str]) -> str | None:
    return next((kind for kind, importer in EXPORT_IMPORTERS.items() if importer.recognises(names)), None)


def _kind_of_file_name(path: Path) -> str | None:
    name = path.name.lower()
    return next(
        (kind for kind, importer in EXPORT_IMPORTERS.items() if importer.file_name_hint in name), None
    )

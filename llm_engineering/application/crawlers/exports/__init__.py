"""Importers for the platforms' official data exports: Medium's zip and LinkedIn's zip/Shares.csv.

An export is the reliable way to get all of a person's writing: no login, no bot checks, no
scrolling. The "link" is a local path (or a file:// URL) to the zip, its unpacked folder or,
for LinkedIn, the bare `Shares.csv`. Each kind is one module here with an `ExportImporter`
subclass, which registers itself; importing the module is all it takes.
"""

from llm_engineering.application.crawlers.exports.archive import ExportArchive, export_path, open_export
from llm_engineering.application.crawlers.exports.base import EXPORT_IMPORTERS, ExportImporter, is_export_path

# The kinds, in the order they are tried on an export that could be either.
from llm_engineering.application.crawlers.exports.medium import MediumExportImporter  # isort: split

from llm_engineering.application.crawlers.exports.linkedin import LinkedInExportImporter

__all__ = [
    "EXPORT_IMPORTERS",
    "ExportArchive",
    "ExportImporter",
    "LinkedInExportImporter",
    "MediumExportImporter",
    "export_path",
    "is_export_path",
    "open_export",
]

"""The ETL use case: a person's links and exports -> documents in the warehouse."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from llm_engineering.application.crawlers.urls import redact_link
from llm_engineering.application.crawling import CrawlTarget, resolve_local_path, unique_targets
from llm_engineering.domain.crawl import CrawlReport, credentials_in
from llm_engineering.domain.exceptions import ConfigError, LLMTwinException


class CrawlFailed(LLMTwinException):
    """Every link of a run failed: the run must not pass for a success."""


def build_targets(links: Iterable[str], exports: Iterable[str], base: Path) -> list[CrawlTarget]:
    """Resolve relative paths against `base` and detect each export's kind."""
    from llm_engineering.application.crawlers.exports import is_export_path

    links, exports = list(links), list(exports)
    for link in (*links, *exports):
        if credentials_in(link):
            raise ConfigError(
                f"{redact_link(link)}: a link must not carry credentials (they would be kept in "
                "ZenML's run records): use an SSH link (git@host:owner/repo.git) with your SSH key, "
                "or a local clone's path"
            )
    resolved_links = [resolve_local_path(link, base) for link in links]
    resolved_exports = []
    for path in exports:
        resolved = resolve_local_path(path, base)
        resolved_exports.append((resolved, is_export_path(resolved)))
    return unique_targets(resolved_links, resolved_exports)


def check_report(report: CrawlReport) -> CrawlReport:
    """Raise when nothing at all could be crawled; partial failures are reported, not raised."""
    if report.all_failed:
        kinds = sorted({f.kind.value for f in report.failed})
        raise CrawlFailed(f"all {report.total} links failed ({', '.join(kinds)}): see the errors above")
    return report

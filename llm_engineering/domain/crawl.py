"""Outcomes of a crawl run: what each link gave, counted per domain."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from llm_engineering.domain.exceptions import ErrorKind
from llm_engineering.domain.types import SaveOutcome


def credentials_in(link: str) -> bool:
    """True when a URL carries a secret before its host: a password (`user:secret@`), or any user
    info on http(s), where a token often stands alone as the user name (`https://TOKEN@host`).
    `ssh://git@host/...` and `git@host:owner/repo` name an SSH user, not a secret."""
    try:
        parts = urlsplit(link.strip())
    except ValueError:
        return False
    if not parts.scheme or "@" not in parts.netloc:
        return False
    return parts.password is not None or parts.scheme.lower() in {"http", "https"}


class LinkFailure(BaseModel):
    link: str
    domain: str
    kind: ErrorKind
    message: str


class LinkSuccess(BaseModel):
    link: str
    domain: str
    #: documents saved from this link by outcome (a feed or export gives several)
    outcomes: dict[SaveOutcome, int] = Field(default_factory=dict)


class CrawlReport(BaseModel):
    """The result of crawling a list of links: never empty-handed silently."""

    succeeded: list[LinkSuccess] = Field(default_factory=list)
    failed: list[LinkFailure] = Field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.succeeded) + len(self.failed)

    @property
    def all_failed(self) -> bool:
        return self.total > 0 and not self.succeeded

    def documents(self, outcome: SaveOutcome) -> int:
        return sum(s.outcomes.get(outcome, 0) for s in self.succeeded)

    def per_domain(self) -> dict[str, dict[str, Any]]:
        """Metadata for the dashboard: succeeded, failed by kind, unchanged, total per domain."""
        stats: dict[str, dict[str, Any]] = {}
        for s in self.succeeded:
            d = stats.setdefault(s.domain, _empty_domain_stats())
            d["succeeded"] += 1
            d["total"] += 1
            d["documents_inserted"] += s.outcomes.get(SaveOutcome.INSERTED, 0)
            d["documents_updated"] += s.outcomes.get(SaveOutcome.UPDATED, 0)
            d["skipped_unchanged"] += s.outcomes.get(SaveOutcome.UNCHANGED, 0)
        for f in self.failed:
            d = stats.setdefault(f.domain, _empty_domain_stats())
            d["failed"] += 1
            d["total"] += 1
            d["failed_by_kind"] = dict(Counter(d["failed_by_kind"]) + Counter({f.kind.value: 1}))
        return stats

    def summary(self) -> dict[str, int]:
        return {
            "links": self.total,
            "succeeded": len(self.succeeded),
            "failed": len(self.failed),
            "documents_inserted": self.documents(SaveOutcome.INSERTED),
            "documents_updated": self.documents(SaveOutcome.UPDATED),
            "skipped_unchanged": self.documents(SaveOutcome.UNCHANGED),
        }


def _empty_domain_stats() -> dict[str, Any]:
    return {
        "succeeded": 0,
        "failed": 0,
        "failed_by_kind": {},
        "skipped_unchanged": 0,
        "documents_inserted": 0,
        "documents_updated": 0,
        "total": 0,
    }

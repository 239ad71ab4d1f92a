"""The crawl engine: links -> crawlers on bounded worker pools -> idempotent saves.

Workers only fetch and extract; the calling thread does every write, so the warehouse sees
one writer per run (embedded stores bind a client to its thread). A failed link is recorded
with its kind and never stops the others; the caller decides what an all-failed run means.

One canonical version per document per run: links are de-duplicated after canonicalisation, and
an article that a feed gives and that is also a link of the run is taken from its own page (a
feed item carries subscribe widgets and loses the subtitle); the feed's version is kept only
when the page failed. So an identical re-run changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger
from tqdm import tqdm

from llm_engineering.application.crawlers.base import BaseCrawler, CancelToken, cancellable
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.urls import canonical_link, domain_of, link_key, redact_link
from llm_engineering.application.ports import DocumentRepository
from llm_engineering.domain.crawl import CrawlReport, LinkFailure, LinkSuccess
from llm_engineering.domain.documents import ContentDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind, LLMTwinException
from llm_engineering.domain.types import SaveOutcome


@dataclass(frozen=True)
class CrawlTarget:
    """One unit of work: a link, or a data export file with its importer kind."""

    link: str
    export_kind: str | None = None

    @property
    def domain(self) -> str:
        return f"export:{self.export_kind}" if self.export_kind else domain_of(self.link)


@dataclass
class _Job:
    target: CrawlTarget
    limit: float
    started: list[float] = field(default_factory=list)  # set by the worker when it starts
    cancel: CancelToken = field(default_factory=CancelToken)


@dataclass
class _RunState:
    """Which document keys this run saved, and feed items waiting for their own page's outcome."""

    #: link key -> the target that links to that page itself
    pages: dict[str, CrawlTarget]
    saved: set[tuple[str, str]] = field(default_factory=set)
    deferred: dict[tuple[str, str], tuple[CrawlTarget, ContentDocument]] = field(default_factory=dict)
    successes: dict[CrawlTarget, LinkSuccess] = field(default_factory=dict)


@dataclass(frozen=True)
class PoolSizes:
    http_workers: int = 8
    browser_workers: int = 2
    link_timeout: float = 120.0


#: the kind of an `exports:` entry no importer recognises (or that does not exist)
UNKNOWN_EXPORT = "unknown"


def _unknown_export_message(path: str) -> str:
    if not Path(path).exists():
        return (
            f"export {path} does not exist: check the path (relative paths are relative to the "
            "repository root)"
        )
    from llm_engineering.application.crawlers.dispatcher import EXPORT_IMPORTERS

    kinds = ", ".join(sorted(EXPORT_IMPORTERS))
    return f"{path} is not a data export any importer reads ({kinds}): pass the export's zip or folder"


def unique_targets(links: Iterable[str], exports: Iterable[tuple[str, str | None]] = ()) -> list[CrawlTarget]:
    """Links in order, canonical, without repeats: `HTTP://Host/a/`, `http://host/a#top` and
    `http://host:80/a?utm_source=x` are one link, crawled once."""
    seen: set[str] = set()
    targets: list[CrawlTarget] = []
    for link in links:
        link = canonical_link(link)
        key = link_key(link).rstrip("/")
        if key not in seen:
            seen.add(key)
            targets.append(CrawlTarget(link))
    for path, kind in exports:
        if path not in seen:
            seen.add(path)
            targets.append(CrawlTarget(path, export_kind=kind or UNKNOWN_EXPORT))
    return targets


def crawl(
    targets: list[CrawlTarget],
    user: UserDocument,
    dispatcher: CrawlerDispatcher,
    repository: DocumentRepository,
    pools: PoolSizes,
    *,
    show_progress: bool = True,
) -> CrawlReport:
    """Crawl every target concurrently and save what each gives. Never raises for one link."""
    report = CrawlReport()
    state = _RunState(pages={link_key(t.link): t for t in targets if not t.export_kind})
    jobs: dict[Future, _Job] = {}
    http_pool = ThreadPoolExecutor(pools.http_workers, thread_name_prefix="http")
    browser_pool = ThreadPoolExecutor(pools.browser_workers, thread_name_prefix="browser")
    try:
        for target in targets:
            try:
                crawler = _crawler_for(dispatcher, target)
            except CrawlError as exc:
                _fail(report, target, exc.kind, str(exc))
                continue
            job = _Job(target, pools.link_timeout)
            pool = browser_pool if crawler.needs_browser else http_pool
            jobs[pool.submit(_run, crawler, job, user)] = job

        pending = set(jobs)
        with tqdm(total=len(targets), desc="Crawling", unit="link", disable=not show_progress) as bar:
            bar.update(len(report.failed))
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    _collect(report, state, jobs[future], future, repository)
                    bar.update(1)
                for future in _overdue(pending, jobs, pools.link_timeout):
                    pending.discard(future)
                    future.cancel()
                    job = jobs[future]
                    job.cancel.cancel()  # the work itself stops at its next checkpoint
                    _fail(report, job.target, ErrorKind.TIMEOUT, _timeout_message(job.target, pools))
                    bar.update(1)
        _save_orphaned_feed_items(report, state, repository)
    finally:
        # Overdue workers may still be blocked in I/O with their own timeouts: do not wait for them.
        http_pool.shutdown(wait=False, cancel_futures=True)
        browser_pool.shutdown(wait=False, cancel_futures=True)
    return report


def _crawler_for(dispatcher: CrawlerDispatcher, target: CrawlTarget) -> BaseCrawler:
    if target.export_kind == UNKNOWN_EXPORT:
        raise CrawlError(ErrorKind.BAD_EXPORT, _unknown_export_message(target.link))
    if target.export_kind:
        return dispatcher.importer_for(target.export_kind)
    return dispatcher.crawler_for(target.link)


def _run(crawler: BaseCrawler, job: _Job, user: UserDocument) -> list[ContentDocument]:
    started = time.monotonic()
    job.started.append(started)
    job.cancel.deadline = started + job.limit
    with cancellable(job.cancel):
        return crawler.extract(job.target.link, user)


def _document_key(document: ContentDocument) -> tuple[str, str]:
    identity = document.identity
    if document.identity_field == "link":
        identity = link_key(identity)
    return document.collection, identity


def _collect(
    report: CrawlReport, state: _RunState, job: _Job, future: Future, repository: DocumentRepository
) -> None:
    target = job.target
    try:
        documents = future.result()
    except CrawlError as exc:
        _fail(report, target, exc.kind, str(exc))
        return
    except Exception as exc:  # a crawler bug must not stop the other links: record it loudly
        logger.opt(exception=exc).debug("Crawler crashed on {}", redact_link(target.link))
        _fail(report, target, ErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}")
        return
    outcomes: dict[SaveOutcome, int] = {}
    own_key = link_key(target.link) if not target.export_kind else None
    try:
        for document in documents:
            key = _document_key(document)
            if key in state.saved:
                continue  # already saved in this run (its own page, or another feed listing it)
            page = state.pages.get(key[1]) if document.identity_field == "link" else None
            if page is not None and key[1] != own_key:
                state.deferred.setdefault(key, (target, document))  # its own page decides
                continue
            outcome = repository.save(document)
            state.saved.add(key)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    except LLMTwinException as exc:
        _fail(report, target, ErrorKind.INTERNAL, f"saving failed: {exc}")
        return
    success = LinkSuccess(link=redact_link(target.link), domain=target.domain, outcomes=outcomes)
    state.successes[target] = success
    report.succeeded.append(success)
    logger.debug("{} -> {}", success.link, {k.value: v for k, v in outcomes.items()})


def _save_orphaned_feed_items(report: CrawlReport, state: _RunState, repository: DocumentRepository) -> None:
    """A feed's version of an article whose own page failed this run is better than nothing."""
    for key, (target, document) in state.deferred.items():
        if key in state.saved or state.pages[key[1]] in state.successes or target not in state.successes:
            continue
        try:
            outcome = repository.save(document)
        except LLMTwinException as exc:
            logger.warning("Saving the feed's version of {} failed: {}", redact_link(document.identity), exc)
            continue
        state.saved.add(key)
        outcomes = state.successes[target].outcomes
        outcomes[outcome] = outcomes.get(outcome, 0) + 1


def _overdue(pending: set[Future], jobs: dict[Future, _Job], limit: float) -> list[Future]:
    now = time.monotonic()
    return [f for f in pending if jobs[f].started and now - jobs[f].started[0] > limit]


def _timeout_message(target: CrawlTarget, pools: PoolSizes) -> str:
    return (
        f"{redact_link(target.link)} took longer than {pools.link_timeout:g} s: "
        "raise CRAWL_LINK_TIMEOUT or check that the site answers"
    )


def _fail(report: CrawlReport, target: CrawlTarget, kind: ErrorKind, message: str) -> None:
    """Record a failed link; links and messages are redacted (no `user:token@` in reports or logs)."""
    message = redact_link(message)
    logger.warning("[{}] {}", kind.value, message)
    report.failed.append(
        LinkFailure(link=redact_link(target.link), domain=target.domain, kind=kind, message=message)
    )


def resolve_local_path(link: str, base: Path) -> str:
    """A relative path in a config (an export, a local repo or bundle) is relative to `base`."""
    if "://" in link or "@" in link.split("/", 1)[0]:
        return link
    candidate = Path(link).expanduser()
    if candidate.is_absolute():
        return str(candidate)
    resolved = base / candidate
    return str(resolved.resolve()) if resolved.exists() else link

"""The crawl engine: links -> crawlers on bounded worker pools -> idempotent saves.

Workers only fetch and extract; the calling thread does every write, so the warehouse sees
one writer per run (embedded stores bind a client to its thread). A failed link is recorded
with its kind and never stops the others; the caller decides what an all-failed run means.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger
from tqdm import tqdm

from llm_engineering.application.crawlers.base import BaseCrawler
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.urls import domain_of
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
    started: list[float] = field(default_factory=list)  # set by the worker when it starts


@dataclass(frozen=True)
class PoolSizes:
    http_workers: int = 8
    browser_workers: int = 2
    link_timeout: float = 120.0


def unique_targets(links: Iterable[str], exports: Iterable[tuple[str, str | None]] = ()) -> list[CrawlTarget]:
    """Links in order, without repeats (a link listed twice is crawled once)."""
    seen: set[str] = set()
    targets: list[CrawlTarget] = []
    for link in links:
        key = link.strip().rstrip("/")
        if key not in seen:
            seen.add(key)
            targets.append(CrawlTarget(link.strip()))
    for path, kind in exports:
        if path not in seen:
            seen.add(path)
            targets.append(CrawlTarget(path, export_kind=kind or "unknown"))
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
            job = _Job(target)
            pool = browser_pool if crawler.needs_browser else http_pool
            jobs[pool.submit(_run, crawler, job, user)] = job

        pending = set(jobs)
        with tqdm(total=len(targets), desc="Crawling", unit="link", disable=not show_progress) as bar:
            bar.update(len(report.failed))
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    _collect(report, jobs[future], future, repository)
                    bar.update(1)
                for future in _overdue(pending, jobs, pools.link_timeout):
                    pending.discard(future)
                    future.cancel()
                    job = jobs[future]
                    _fail(report, job.target, ErrorKind.TIMEOUT, _timeout_message(job.target, pools))
                    bar.update(1)
    finally:
        # Overdue workers may still be blocked in I/O with their own timeouts: do not wait for them.
        http_pool.shutdown(wait=False, cancel_futures=True)
        browser_pool.shutdown(wait=False, cancel_futures=True)
    return report


def _crawler_for(dispatcher: CrawlerDispatcher, target: CrawlTarget) -> BaseCrawler:
    if target.export_kind:
        return dispatcher.importer_for(target.export_kind)
    return dispatcher.crawler_for(target.link)


def _run(crawler: BaseCrawler, job: _Job, user: UserDocument) -> list[ContentDocument]:
    job.started.append(time.monotonic())
    return crawler.extract(job.target.link, user)


def _collect(report: CrawlReport, job: _Job, future: Future, repository: DocumentRepository) -> None:
    target = job.target
    try:
        documents = future.result()
    except CrawlError as exc:
        _fail(report, target, exc.kind, str(exc))
        return
    except Exception as exc:  # a crawler bug must not stop the other links: record it loudly
        logger.opt(exception=exc).debug("Crawler crashed on {}", target.link)
        _fail(report, target, ErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}")
        return
    outcomes: dict[SaveOutcome, int] = {}
    try:
        for document in documents:
            outcome = repository.save(document)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    except LLMTwinException as exc:
        _fail(report, target, ErrorKind.INTERNAL, f"saving failed: {exc}")
        return
    report.succeeded.append(LinkSuccess(link=target.link, domain=target.domain, outcomes=outcomes))
    logger.debug("{} -> {}", target.link, {k.value: v for k, v in outcomes.items()})


def _overdue(pending: set[Future], jobs: dict[Future, _Job], limit: float) -> list[Future]:
    now = time.monotonic()
    return [f for f in pending if jobs[f].started and now - jobs[f].started[0] > limit]


def _timeout_message(target: CrawlTarget, pools: PoolSizes) -> str:
    return (
        f"{target.link} took longer than {pools.link_timeout:g} s: "
        "raise CRAWL_LINK_TIMEOUT or check that the site answers"
    )


def _fail(report: CrawlReport, target: CrawlTarget, kind: ErrorKind, message: str) -> None:
    logger.warning("[{}] {}", kind.value, message)
    report.failed.append(LinkFailure(link=target.link, domain=target.domain, kind=kind, message=message))


def resolve_local_path(link: str, base: Path) -> str:
    """A relative path in a config (an export, a local repo or bundle) is relative to `base`."""
    if "://" in link or "@" in link.split("/", 1)[0]:
        return link
    candidate = Path(link).expanduser()
    if candidate.is_absolute():
        return str(candidate)
    resolved = base / candidate
    return str(resolved.resolve()) if resolved.exists() else link

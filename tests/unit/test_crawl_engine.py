"""The crawl engine on the real embedded warehouse, with small in-test crawlers as sites."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from llm_engineering.application.crawlers.base import BaseCrawler, CrawlContext, CrawlerOptions
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawling import PoolSizes, crawl, unique_targets
from llm_engineering.application.etl import CrawlFailed, check_report
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from llm_engineering.infrastructure.db.mongo import connect_warehouse
from llm_engineering.settings import Settings

CALLS: list[str] = []
ACTIVE = {"now": 0, "peak": 0}
_lock = threading.Lock()


class EchoOptions(CrawlerOptions):
    prefix: str = ""


class EchoCrawler(BaseCrawler):
    """Returns one article whose content is the link's last path segment."""

    name = "echo"
    options_model = EchoOptions
    options: EchoOptions

    def extract(self, link: str, user: UserDocument) -> list[ArticleDocument]:
        with _lock:
            CALLS.append(link)
            ACTIVE["now"] += 1
            ACTIVE["peak"] = max(ACTIVE["peak"], ACTIVE["now"])
        try:
            time.sleep(0.05)
            if link.endswith("/broken"):
                raise CrawlError(ErrorKind.HTTP_5XX, f"{link} answered 500: try again later")
            if link.endswith("/crash"):
                raise RuntimeError("bug in a crawler")
            if link.endswith("/hang"):
                time.sleep(3)
            body = self.options.prefix + link.rsplit("/", 1)[-1]
            return [
                ArticleDocument(
                    content={"Content": body},
                    platform="echo",
                    link=link,
                    author_id=user.id,
                    author_full_name=user.full_name,
                )
            ]
        finally:
            with _lock:
                ACTIVE["now"] -= 1


ECHO = f"{__name__}.EchoCrawler"
ECHO_MAP = {"echo.test": ECHO, "*.echo.test": ECHO}


@pytest.fixture
def env(tmp_path: Path):
    settings = Settings(DATA_DIR=tmp_path, CRAWL_ALLOWED_CRAWLER_PACKAGES=["tests"])
    repository = connect_warehouse(settings)
    user = repository.get_or_create_user("Ada Sample")
    context = CrawlContext(settings=settings, http=None, limiter=None, options={})  # type: ignore[arg-type]
    dispatcher = CrawlerDispatcher(context, ECHO_MAP)
    CALLS.clear()
    ACTIVE.update(now=0, peak=0)
    yield repository, user, dispatcher, context
    repository.close()


def _crawl(env, links, pools=PoolSizes(http_workers=4, browser_workers=1, link_timeout=10)):
    repository, user, dispatcher, _ = env
    return crawl(unique_targets(links), user, dispatcher, repository, pools, show_progress=False)


def test_failures_are_recorded_and_the_good_links_are_stored(env) -> None:
    links = [
        "https://echo.test/a",
        "https://blog.echo.test/b",
        "https://echo.test/broken",
        "https://echo.test/crash",
        "ftp://echo.test/c",
        "not a url",
    ]
    report = _crawl(env, links)
    repository = env[0]
    assert sorted(s.link for s in report.succeeded) == ["https://blog.echo.test/b", "https://echo.test/a"]
    kinds = {f.link: f.kind for f in report.failed}
    assert kinds == {
        "https://echo.test/broken": ErrorKind.HTTP_5XX,
        "https://echo.test/crash": ErrorKind.INTERNAL,
        "ftp://echo.test/c": ErrorKind.UNSUPPORTED_URL,
        "not a url": ErrorKind.INVALID_URL,
    }
    assert all("\n" not in f.message for f in report.failed)
    assert repository.count(ArticleDocument) == 2
    stats = report.per_domain()
    assert stats["echo.test"]["failed_by_kind"] == {"http_5xx": 1, "internal": 1, "unsupported_url": 1}
    assert stats["blog.echo.test"]["succeeded"] == 1


def test_rerun_stores_nothing_new_and_updates_changed_content(env) -> None:
    links = [f"https://echo.test/{i}" for i in range(10)]
    first = _crawl(env, links)
    assert first.summary()["documents_inserted"] == 10
    second = _crawl(env, links + links)  # repeats are crawled once
    assert len(CALLS) == 20
    assert second.summary() == {
        "links": 10,
        "succeeded": 10,
        "failed": 0,
        "documents_inserted": 0,
        "documents_updated": 0,
        "skipped_unchanged": 10,
    }
    repository, user, _, context = env
    context.options["echo"] = {"prefix": "v2-"}
    v2 = CrawlerDispatcher(context, ECHO_MAP)  # options are read once per run, by the dispatcher
    third = crawl(unique_targets(links[:3]), user, v2, repository, PoolSizes(4, 1, 10), show_progress=False)
    assert third.summary()["documents_updated"] == 3
    assert repository.count(ArticleDocument) == 10
    stored = repository.find_by_identity(ArticleDocument, "https://echo.test/0")
    assert stored is not None and stored.content == {"Content": "v2-0"}


def test_workers_run_concurrently_within_the_pool_bound(env) -> None:
    links = [f"https://echo.test/{i}" for i in range(12)]
    _crawl(env, links, PoolSizes(http_workers=3, browser_workers=1, link_timeout=10))
    assert ACTIVE["peak"] == 3


def test_a_link_over_its_time_budget_fails_without_blocking_the_run(env) -> None:
    started = time.monotonic()
    report = _crawl(
        env, ["https://echo.test/hang", "https://echo.test/ok"], PoolSizes(2, 1, link_timeout=0.5)
    )
    assert time.monotonic() - started < 2.5
    assert [f.kind for f in report.failed] == [ErrorKind.TIMEOUT]
    assert [s.link for s in report.succeeded] == ["https://echo.test/ok"]


def test_a_run_where_every_link_failed_raises(env) -> None:
    report = _crawl(env, ["https://echo.test/broken", "gopher://x"])
    with pytest.raises(CrawlFailed, match="all 2 links failed"):
        check_report(report)
    assert check_report(_crawl(env, ["https://echo.test/broken", "https://echo.test/fine"]))


def test_dispatcher_matches_schemes_www_and_wildcards(env) -> None:
    dispatcher = env[2]
    pkg = "llm_engineering.application.crawlers"
    git = f"{pkg}.github.GitCrawler"
    cases = {
        "https://echo.test/x": ECHO,
        "http://www.echo.test/x": ECHO,
        "https://deep.sub.echo.test/x": ECHO,
        "https://github.com/user/repo": git,
        "git@github.com:user/repo.git": git,
        "file:///tmp/repo": git,
        "https://example.org/post": f"{pkg}.custom_article.CustomArticleCrawler",
        "https://someone.substack.com/p/x": f"{pkg}.substack.SubstackCrawler",
        "https://medium.com/@someone/post-123": f"{pkg}.medium.MediumCrawler",
        "https://www.linkedin.com/in/someone": f"{pkg}.linkedin.LinkedInCrawler",
    }
    assert {link: dispatcher.crawler_path_for(link) for link in cases} == cases


@pytest.mark.parametrize(
    ("link", "kind"),
    [
        ("http://[::1/post", ErrorKind.INVALID_URL),
        ("https://exa mple.com/x", ErrorKind.INVALID_URL),
        ("example.com/post", ErrorKind.INVALID_URL),
        ("mailto:ada@example.com", ErrorKind.UNSUPPORTED_URL),
        ("", ErrorKind.INVALID_URL),
    ],
)
def test_bad_links_get_a_one_line_error_naming_them(link: str, kind: ErrorKind) -> None:
    from llm_engineering.application.crawlers.urls import validate_link

    with pytest.raises(CrawlError) as caught:
        validate_link(link)
    assert caught.value.kind is kind
    assert "\n" not in str(caught.value)
    assert link.strip() in str(caught.value) or not link


def test_a_missing_or_unreadable_export_is_one_clear_failure(env, tmp_path: Path) -> None:
    repository, user, dispatcher, _ = env
    missing = str(tmp_path / "no-such-export.zip")
    not_an_export = tmp_path / "notes.txt"
    not_an_export.write_text("just notes")
    targets = unique_targets(["https://echo.test/a"], [(missing, None), (str(not_an_export), None)])
    report = crawl(targets, user, dispatcher, repository, PoolSizes(2, 1, 10), show_progress=False)
    assert [s.link for s in report.succeeded] == ["https://echo.test/a"]
    failures = {f.link: f for f in report.failed}
    assert failures[missing].kind is ErrorKind.BAD_EXPORT
    assert failures[missing].message.startswith(f"export {missing} does not exist: check the path")
    assert "is not a data export any importer reads (linkedin_export, medium_export)" in (
        failures[str(not_an_export)].message
    )

"""One canonical version per article per run: an identical re-run changes no stored document."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.substack import SubstackCrawler
from llm_engineering.application.crawling import PoolSizes, crawl, unique_targets
from llm_engineering.domain.documents import ArticleDocument
from llm_engineering.infrastructure.db.mongo import connect_warehouse
from tests.integration.crawlers_http.conftest import SUBSTACK_HOST

POST_ONE = f"https://{SUBSTACK_HOST}/p/post-one"
#: the publication (its feed lists post-one) and post-one's own page, written three ways
LINKS = [
    f"https://{SUBSTACK_HOST}/",
    "HTTPS://TestPub.Substack.com:443/p/post-one#comments",
    f"{POST_ONE}/?utm_source=newsletter",
    POST_ONE,
]


def _slowly(handler) -> None:
    time.sleep(0.5)
    handler.serve_static(handler.path)


@pytest.fixture
def warehouse(tmp_path: Path):
    from llm_engineering.settings import Settings

    repository = connect_warehouse(Settings(_env_file=None, DATA_DIR=tmp_path / "warehouse"))
    yield repository
    repository.close()


def test_page_wins_over_feed_and_a_rerun_changes_nothing(
    make_context, substack_server, user, warehouse
) -> None:
    context = make_context(hosts={SUBSTACK_HOST: substack_server.port})
    page_version = SubstackCrawler(context).extract(POST_ONE, user)[0].content
    feed_version = next(
        d for d in SubstackCrawler(context).extract(f"https://{SUBSTACK_HOST}/", user) if d.link == POST_ONE
    )
    assert feed_version.content != page_version  # the two sources really differ
    substack_server.hits.clear()
    # The page answers last, so a run that took the first version it met would keep the feed's.
    substack_server.routes["/p/post-one"] = _slowly

    dispatcher = CrawlerDispatcher(context)
    pools = PoolSizes(http_workers=4, browser_workers=1, link_timeout=30)
    targets = unique_targets(LINKS)
    assert [t.link for t in targets] == [f"https://{SUBSTACK_HOST}/", POST_ONE]

    first = crawl(targets, user, dispatcher, warehouse, pools, show_progress=False)
    assert first.summary()["documents_inserted"] == 3 and not first.failed
    assert substack_server.count("/p/post-one") == 1  # three spellings, one fetch
    stored = warehouse.find_by_identity(ArticleDocument, POST_ONE, user.id)
    assert stored is not None and stored.content == page_version

    for _ in range(2):
        again = crawl(unique_targets(LINKS), user, dispatcher, warehouse, pools, show_progress=False)
        assert again.summary()["documents_updated"] == 0
        assert again.summary()["documents_inserted"] == 0
        assert again.summary()["skipped_unchanged"] == 3
    assert warehouse.count(ArticleDocument) == 3


def test_the_feed_version_is_kept_when_the_page_fails(make_context, substack_server, user, warehouse) -> None:
    context = make_context(hosts={SUBSTACK_HOST: substack_server.port})
    substack_server.routes["/p/post-one"] = lambda handler: handler.send_body(404, b"gone", "text/html")
    report = crawl(
        unique_targets([f"https://{SUBSTACK_HOST}/", POST_ONE]),
        user,
        CrawlerDispatcher(context),
        warehouse,
        PoolSizes(http_workers=2, browser_workers=1, link_timeout=30),
        show_progress=False,
    )
    assert [f.link for f in report.failed] == [POST_ONE]
    stored = warehouse.find_by_identity(ArticleDocument, POST_ONE, user.id)
    assert stored is not None and stored.content["Title"] == "Vector databases without the hype"
    assert report.summary()["documents_inserted"] == 3

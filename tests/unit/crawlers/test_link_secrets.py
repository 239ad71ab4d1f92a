"""A token in a link never reaches ZenML's run records, the crawl report or the logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawling import CrawlTarget, PoolSizes, crawl
from llm_engineering.application.etl import build_targets
from llm_engineering.domain.documents import UserDocument
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.run_configs import EtlRunConfig
from llm_engineering.settings import Settings
from tests.fakes import InMemoryDocumentRepository
from tools.configs import load_config

TOKEN = "ghp_s3cretT0ken"


@pytest.mark.parametrize(
    "link",
    [
        f"https://bob:{TOKEN}@git.example.test/team/repo.git",
        f"https://{TOKEN}@git.example.test/team/repo.git",
    ],
)
def test_a_config_link_with_credentials_is_refused_before_zenml_sees_it(tmp_path: Path, link: str) -> None:
    config = tmp_path / "person.yaml"
    config.write_text(f"parameters:\n  user_full_name: Ada\n  links:\n    - {link}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config, EtlRunConfig)
    assert "must not carry credentials" in str(caught.value)
    assert TOKEN not in str(caught.value)
    with pytest.raises(ConfigError, match="must not carry credentials") as direct:
        build_targets([link], [], base=tmp_path)
    assert TOKEN not in str(direct.value)


def test_ssh_links_name_a_user_not_a_secret(tmp_path: Path) -> None:
    links = ["git@github.com:ada/project.git", "ssh://git@git.example.test/team/repo.git"]
    assert [t.link for t in build_targets(links, [], base=tmp_path)] == links


def test_the_crawl_report_and_logs_never_hold_the_token(tmp_path: Path, caplog) -> None:
    from loguru import logger

    settings = Settings(_env_file=None, DATA_DIR=tmp_path, GIT_CLONE_TIMEOUT=20)
    context = CrawlContext(settings=settings, http=None, limiter=None)  # type: ignore[arg-type]
    messages: list[str] = []
    sink = logger.add(messages.append, level="DEBUG")
    try:
        report = crawl(
            [CrawlTarget(f"http://bob:{TOKEN}@127.0.0.1:9/team/repo.git")],  # nothing listens on port 9
            UserDocument.from_full_name("Ada"),
            CrawlerDispatcher(context),
            InMemoryDocumentRepository(),
            PoolSizes(http_workers=1, browser_workers=1, link_timeout=30),
            show_progress=False,
        )
    finally:
        logger.remove(sink)
    assert len(report.failed) == 1
    assert report.failed[0].link == "http://***@127.0.0.1:9/team/repo.git"
    assert TOKEN not in report.model_dump_json()
    assert messages and not [m for m in messages if TOKEN in m]

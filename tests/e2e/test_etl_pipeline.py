"""The ETL through its real entry point (`python -m tools.run etl`): ZenML, crawlers, warehouse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument, UserDocument
from llm_engineering.infrastructure.db.mongo import connect_warehouse
from llm_engineering.settings import Settings
from tests.conftest import REPO_ROOT
from tests.integration.crawlers_http.servers import FixtureServer
from tests.support.pages import slow_article_route

pytestmark = pytest.mark.slow

SAMPLE = {
    "user_full_name": "Ada Sample",
    "links": ["sample/ada-sample-repo.bundle"],
    "exports": ["sample/medium-export.zip", "sample/linkedin-export.zip"],
}


@pytest.fixture
def site():
    routes = {f"/posts/{i}": slow_article_route(i, 0.0) for i in range(3)}
    routes.update({f"/slow/{i}": slow_article_route(100 + i, 0.25) for i in range(24)})
    server = FixtureServer(routes=routes).start()
    yield server
    server.stop()


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "CRAWL_DOMAIN_DELAY": "0",
        "CRAWL_REQUEST_TIMEOUT": "5",
        "CRAWL_MAX_RETRIES": "1",
        "CRAWL_BACKOFF_BASE": "0.05",
        "NO_PROXY": "127.0.0.1,localhost",
        "CRAWL_ALLOW_PRIVATE_NETWORKS": "true",  # the fixture sites serve on 127.0.0.1
        "LOG_LEVEL": "INFO",
    }


def _config(tmp_path: Path, name: str, parameters: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"parameters": parameters}), encoding="utf-8")
    return path


def _etl(config: Path, data_dir: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.run", "etl", "--config", str(config)],
        cwd=REPO_ROOT,
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def _counts(data_dir: Path) -> dict[str, int]:
    repository = connect_warehouse(Settings(DATA_DIR=data_dir))
    try:
        counts = {
            t.collection: repository.count(t)
            for t in (UserDocument, ArticleDocument, PostDocument, RepositoryDocument)
        }
        links = [d.link for d in repository.iter_all(ArticleDocument)]
        assert len(links) == len(set(links)), "duplicate articles"
        post_ids = [p.post_id for p in repository.iter_all(PostDocument)]
        assert len(post_ids) == len(set(post_ids)), "duplicate posts"
        return counts
    finally:
        repository.close()


def test_etl_stores_good_links_reports_bad_ones_and_reruns_idempotently(tmp_path: Path, site) -> None:
    base = site.base_url
    config = _config(
        tmp_path,
        "person",
        {
            **SAMPLE,
            "links": [
                *SAMPLE["links"],
                f"{base}/posts/0",
                f"{base}/posts/1",
                f"{base}/missing",
                "https://exa mple.com/bad",
                f"file://{tmp_path}/no-such-repo",
            ],
        },
    )
    data_dir = tmp_path / "data"
    first = _etl(config, data_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    assert _counts(data_dir) == {"users": 1, "articles": 5, "posts": 6, "repositories": 1}
    assert (
        "[http_4xx]" in first.stderr
        and "[invalid_url]" in first.stderr
        and "[repo_not_found]" in first.stderr
    )

    from zenml.client import Client

    run = Client().list_pipeline_runs(sort_by="desc:created", size=1).items[0]
    assert run.status == "completed"
    metadata = Client().get_pipeline_run(run.id).steps["crawl_links"].run_metadata
    domains = metadata["domains"]
    assert domains["127.0.0.1"]["succeeded"] == 2
    assert domains["127.0.0.1"]["failed_by_kind"] == {"http_4xx": 1}
    assert domains["export:medium_export"]["documents_inserted"] == 3
    assert metadata["summary"]["documents_inserted"] == 3 + 6 + 1 + 2

    second = _etl(config, data_dir)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _counts(data_dir) == {"users": 1, "articles": 5, "posts": 6, "repositories": 1}
    metadata = Client().get_pipeline_run(
        Client().list_pipeline_runs(sort_by="desc:created", size=1).items[0].id
    )
    summary = metadata.steps["crawl_links"].run_metadata["summary"]
    assert summary["documents_inserted"] == 0 and summary["documents_updated"] == 0
    assert summary["skipped_unchanged"] == 12


def test_a_run_where_every_link_fails_exits_non_zero(tmp_path: Path, site) -> None:
    config = _config(
        tmp_path,
        "bad",
        {"user_full_name": "Bad Links", "links": [f"{site.base_url}/missing", "gopher://x/y"]},
    )
    result = _etl(config, tmp_path / "data")
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: digital_data_etl failed: step crawl_links: all 2 links failed"), (
        last_line
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("parameters:\n  links: [unclosed\n", "is not valid YAML at line"),
        ("parameters:\n  links: []\n", "`parameters.user_full_name` field required"),
        (
            "parameters:\n  user_full_name: A\n  linkz: []\n",
            "`parameters.linkz` extra inputs are not permitted",
        ),
    ],
)
def test_an_invalid_config_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text(text, encoding="utf-8")
    result = _etl(config, tmp_path / "data")
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: config ")
    assert "Traceback" not in result.stderr


def test_sigkill_mid_run_then_rerun_completes_without_duplicates(tmp_path: Path, site) -> None:
    links = [f"{site.base_url}/slow/{i}" for i in range(24)]
    config = _config(tmp_path, "slow", {"user_full_name": "Kill Test", "links": links})
    data_dir = tmp_path / "data"
    env = {**_env(data_dir), "CRAWL_HTTP_WORKERS": "2", "CRAWL_PER_DOMAIN_CONCURRENCY": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.run", "etl", "--config", str(config)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and site.count("/slow/3") == 0:
        time.sleep(0.1)
    while time.monotonic() < deadline and (data_dir / "warehouse").exists() and _stored(data_dir) < 3:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    stored_at_kill = _stored(data_dir)
    assert 0 < stored_at_kill < 24, "the kill must land mid-run"

    rerun = _etl(config, data_dir)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert _counts(data_dir)["articles"] == 24


def _stored(data_dir: Path) -> int:
    try:
        return _counts(data_dir)["articles"]
    except Exception:  # the store may not exist yet while the run starts
        return 0


def test_two_runs_at_once_leave_no_duplicates(tmp_path: Path, site) -> None:
    links = [f"{site.base_url}/slow/{i}" for i in range(12)]
    config = _config(tmp_path, "twice", {**SAMPLE, "links": [*SAMPLE["links"], *links]})
    data_dir = tmp_path / "data"
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "tools.run", "etl", "--config", str(config)],
            cwd=REPO_ROOT,
            env=_env(data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-3000:]
    assert _counts(data_dir) == {"users": 1, "articles": 15, "posts": 6, "repositories": 1}

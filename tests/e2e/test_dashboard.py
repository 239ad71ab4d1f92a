"""`tools.run dashboard` opens straight on the runs: real ZenML server, real headless Chromium.

The sample person's ETL and a feature run go into a fresh DATA_DIR (and its own ZenML store);
the dashboard starts on a free port, and the runs page must list both runs, not ZenML's
first-visit account form. The dashboard is stopped at the end (`--stop`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(
        not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
        reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)",
    ),
]

RUNS_PAGE = "/projects/default/runs"
PIPELINES = ("digital_data_etl", "feature_engineering")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(data_dir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "ZENML_CONFIG_PATH": str(data_dir / "zenml"),
        "HF_HUB_OFFLINE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tools.run", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{args}: {result.stderr[-4000:]}"
    return result


@pytest.fixture
def chrome() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"
    os.environ["SE_AVOID_STATS"] = "true"
    profile = Path(tempfile.mkdtemp(prefix="llm-twin-dashboard-chrome-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-proxy-server",
        f"--user-data-dir={profile}",
        # only the dashboard on 127.0.0.1 resolves: no background request leaves the machine
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_the_dashboard_opens_on_the_runs_of_an_etl_and_a_feature_run(tmp_path: Path, chrome) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    data_dir = tmp_path / "data"
    _cli(data_dir, "etl", "--config", "configs/digital_data_etl_sample.yaml")
    _cli(data_dir, "features")

    port = _free_port()
    started = _cli(data_dir, "dashboard", "--port", str(port), timeout=300)
    try:
        url = f"http://127.0.0.1:{port}"
        assert f"{url}{RUNS_PAGE}" in started.stdout
        chrome.get(url + RUNS_PAGE)

        def body() -> str:
            return chrome.find_element(By.TAG_NAME, "body").text

        try:
            WebDriverWait(chrome, 120, poll_frequency=1).until(
                lambda _: all(name in body() for name in PIPELINES)
            )
        except Exception as exc:  # the page as it is, to see what came instead of the runs
            raise AssertionError(f"runs page at {chrome.current_url} shows: {body()[:2000]!r}") from exc
        assert chrome.current_url.rstrip("/").endswith(RUNS_PAGE), "no detour to a first-visit form"
        text = body()
        assert "email" not in text.lower(), "the first-visit account form is showing"
        for name in PIPELINES:
            assert name in text
    finally:
        _cli(data_dir, "dashboard", "--stop", timeout=120)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass

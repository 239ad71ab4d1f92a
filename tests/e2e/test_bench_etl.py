"""The ETL benchmark runs end to end (`bench/etl.py --quick`) and both crawls agree."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.integration.crawlers_browser.sites import needs_chromium

pytestmark = [pytest.mark.slow, pytest.mark.browser, needs_chromium]


def test_quick_bench_prints_one_json_line_with_equal_stores_and_a_speedup() -> None:
    result = subprocess.run(
        [sys.executable, "bench/etl.py", "--quick"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 1, f"stdout must be one JSON line, got: {result.stdout!r}"
    report = json.loads(lines[0])
    assert report["links"] == 14
    assert report["equal"] is True
    assert report["reference_documents"] == report["ours_documents"]
    assert report["ours_documents"]["articles"] == 12
    assert report["ours_documents"]["repositories"] == 2
    assert report["ratio"] > 1, report

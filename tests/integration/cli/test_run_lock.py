"""A second run of a lock-holding pipeline is refused before its first step, naming the holder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tools.pipelines import PipelineFailed, one_run_at_a_time


def test_a_second_holder_is_refused_at_once_with_the_first_ones_pid(tmp_path: Path) -> None:
    lock = tmp_path / "vectors" / "feature-run.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from tools.pipelines import one_run_at_a_time\n"
         "with one_run_at_a_time(Path(sys.argv[1]), 'features'):\n"
         "    print('held', flush=True); time.sleep(60)\n", str(lock)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        refused = rf"another `features` run \(pid {holder.pid}\)"
        with pytest.raises(PipelineFailed, match=refused), one_run_at_a_time(lock, "features"):
            pass
    finally:
        holder.kill()
        holder.wait()
    with one_run_at_a_time(lock, "features"):  # released when its holder dies
        assert lock.read_text() == str(os.getpid())


def test_features_cli_takes_the_lock_before_any_step(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    lock = data_dir / "vectors" / "feature-run.lock"
    env = {k: v for k, v in os.environ.items() if k != "ZENML_CONFIG_PATH"} | {"DATA_DIR": str(data_dir)}
    with one_run_at_a_time(lock, "features"):
        result = subprocess.run(
            [sys.executable, "-m", "tools.run", "features", "--full"],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"another `features` run (pid {os.getpid()}) is in progress" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (data_dir / "vectors" / "work").exists(), "no step ran"

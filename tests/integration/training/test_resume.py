"""A training run killed with SIGKILL resumes from its last complete checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_engineering.infrastructure.training.trainer import last_checkpoint
from tests.conftest import REPO_ROOT

MAX_STEPS = 10
CONFIG = {
    "precision": "fp32",
    "sft": {
        "learning_rate": 1e-3,
        "max_steps": 10,
        "save_steps": 2,
        "save_total_limit": 2,
        "per_device_train_batch_size": 2,
        "max_length": 96,
        "packing": False,
    },
}


def _worker(model: Path, out: Path) -> list[str]:
    config = {**CONFIG, "base_model": str(model)}
    return [
        sys.executable,
        "-m",
        "tests.integration.training.resume_worker",
        str(model),
        json.dumps(config),
        str(out),
    ]


@pytest.mark.timeout(900)
def test_kill_9_then_rerun_resumes_from_last_checkpoint(
    tiny_llama: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    checkpoints = out / "sft" / "checkpoints"
    process = subprocess.Popen(
        _worker(tiny_llama, out), cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 240
        while last_checkpoint(checkpoints) is None:
            assert process.poll() is None, "the worker ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    killed_at = int(last_checkpoint(checkpoints).name.removeprefix("checkpoint-"))
    assert killed_at < MAX_STEPS, "the worker finished before it was killed: the test proves nothing"
    assert not (out / "sft" / "merged").exists()

    # the re-run (here, in this process) continues from that checkpoint and finishes the stage
    from tests.integration.training.resume_worker import main

    main(str(tiny_llama), json.dumps({**CONFIG, "base_model": str(tiny_llama)}), str(out))
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["resumed_from_step"] >= killed_at
    assert report["metrics"]["sft/global_step"] == MAX_STEPS
    state = json.loads((out / "sft" / "merged" / "stage_report.json").read_text())
    steps = [entry["step"] for entry in state["log_history"] if "loss" in entry]
    assert steps[-1] == MAX_STEPS

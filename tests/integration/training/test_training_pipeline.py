"""`python -m tools.run training`: the ZenML pipeline reads the dataset artifacts, trains, registers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    # its own ZenML store (where the CLI would put it), not the session's, which other tests fill
    env = {**os.environ, "DATA_DIR": str(data_dir), "ZENML_CONFIG_PATH": str(data_dir / "zenml")}
    env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=800
    )


@pytest.mark.timeout(900)
def test_training_pipeline_registers_a_twin_version(tiny_llama: Path, data_dir: Path, tmp_path: Path) -> None:
    config = yaml.safe_load((REPO_ROOT / "configs" / "training.yaml").read_text())
    training = config["parameters"]["training"]
    training.update(base_model=str(tiny_llama), precision="fp32")
    training["sft"].update(max_steps=2, max_length=128, save_steps=2)
    training["dpo"].update(max_steps=1, max_length=128, save_steps=1, per_device_train_batch_size=1)
    config_path = tmp_path / "training.yaml"
    config_path.write_text(yaml.safe_dump(config))

    missing = _run(["-m", "tools.run", "training", "--config", str(config_path)], data_dir)
    assert missing.returncode == 1
    assert "no `instruct_datasets` artifact" in missing.stderr

    seeded = _run(["-m", "tests.integration.training.seed_datasets"], data_dir)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    trained = _run(["-m", "tools.run", "training", "--config", str(config_path)], data_dir)
    assert trained.returncode == 0, trained.stderr[-3000:]

    start = trained.stdout.rindex('{\n  "version"')  # the summary comes after the Trainer's own logs
    summary, _ = json.JSONDecoder().raw_decode(trained.stdout[start:])
    version_dir = data_dir / "models" / "twin" / summary["version"]
    assert (version_dir / "config.json").exists() and (version_dir / "README.md").exists()
    card = json.loads((version_dir / "model_card.json").read_text())
    card = card.get("card", card)
    assert {"instruct", "preference"} <= set(card["datasets"])  # artifact ids (+ hashes)
    assert card["stage_of_training"] == ["sft", "dpo"]
    assert list((data_dir / "comet").glob("*.zip"))

"""Runs one SFT stage (the resume test starts this in a subprocess and kills it with SIGKILL)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from llm_engineering.domain.training_config import TrainingConfig
from llm_engineering.infrastructure.tracking.comet import CometTracker
from llm_engineering.infrastructure.training.trainer import train_sft
from tests.unit.training.conftest import instruct_samples


def main(model: str, config_json: str, out: str) -> None:
    config = TrainingConfig.model_validate(json.loads(config_json))
    tracker = CometTracker(project="tests", offline_dir=Path(out) / "comet")
    with tracker.start_run("resume", params={}, tags=[]) as run:
        result = train_sft(config, Path(model), instruct_samples(), run, Path(out))
    print(json.dumps({"resumed_from_step": result.resumed_from_step, "metrics": result.metrics}))


if __name__ == "__main__":
    main(*sys.argv[1:4])

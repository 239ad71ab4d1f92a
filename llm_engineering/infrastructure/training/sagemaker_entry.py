"""SageMaker's entry point: the same `fine_tune` as the ZenML step, on the job's instance.

Reads `instruct_train.jsonl` (and `preference_train.jsonl` when present) from the `datasets`
channel, the `TrainingConfig` JSON from the `config` hyper-parameter, and copies the final merged
model into `SM_MODEL_DIR`. Comet logs online when `COMET_API_KEY` is in the job's environment.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace


def _read_jsonl(path: Path) -> list[SimpleNamespace]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [SimpleNamespace(**json.loads(line)) for line in handle if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True, help="TrainingConfig as JSON")
    args, _ = parser.parse_known_args()

    from llm_engineering.application.training.fine_tuning import fine_tune
    from llm_engineering.domain.training_config import TrainingConfig
    from llm_engineering.infrastructure.tracking.comet import build_tracker
    from llm_engineering.infrastructure.training.trainer import TrlFineTuner
    from llm_engineering.settings import get_settings

    data_dir = Path(os.environ.get("SM_CHANNEL_DATASETS", "/opt/ml/input/data/datasets"))
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    checkpoints = Path("/opt/ml/checkpoints")  # synced to S3 by SageMaker: a restarted job resumes
    config = TrainingConfig.model_validate(json.loads(args.config)).model_copy(
        update={"output_dir": checkpoints, "register_version": False}
    )
    settings = get_settings()
    result = fine_tune(
        config,
        _read_jsonl(data_dir / "instruct_train.jsonl"),
        _read_jsonl(data_dir / "preference_train.jsonl"),
        tuner=TrlFineTuner(settings.cache_dir / "models"),
        tracker=build_tracker(settings),
        registry=None,
        output_root=checkpoints,
    )
    shutil.copytree(result.final_weights, model_dir, dirs_exist_ok=True)
    (model_dir / "training_summary.json").write_text(json.dumps(result.summary(), indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

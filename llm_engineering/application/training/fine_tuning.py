"""The training use case: SFT, then DPO on the SFT model, tracked, and the result registered.

Decides only; the stages run behind the `FineTuner` port, runs are logged through the
`ExperimentTracker` port and the final model goes to the `ModelRegistry` port.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.application.ports import (
    ExperimentTracker,
    FineTuner,
    InstructExample,
    ModelRegistry,
    PreferenceExample,
    StageResult,
)
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.training import ModelCard, ModelVersion
from llm_engineering.domain.training_config import TrainingConfig


@dataclass(frozen=True)
class Lineage:
    """Where the data and code came from: dataset name -> artifact version id (or content hash)."""

    datasets: dict[str, str] = field(default_factory=dict)
    code_version: str = "unknown"
    authors: list[str] = field(default_factory=list)


@dataclass
class TrainingResult:
    run_dir: Path
    sft: StageResult
    dpo: StageResult | None
    experiment_key: str
    version: ModelVersion | None = None

    @property
    def final_weights(self) -> Path:
        return (self.dpo or self.sft).weights_dir

    @property
    def metrics(self) -> dict[str, float]:
        return {**self.sft.metrics, **(self.dpo.metrics if self.dpo else {})}

    def summary(self) -> dict[str, Any]:
        """Plain data for ZenML metadata and the CLI."""
        return {
            "version": self.version.version if self.version else None,
            "weights": {
                "sft": str(self.sft.weights_dir),
                "dpo": str(self.dpo.weights_dir) if self.dpo else None,
            },
            "metrics": self.metrics,
            "experiment_key": self.experiment_key,
            "run_dir": str(self.run_dir),
        }


def content_hash(rows: Sequence[Any], fields: Sequence[str]) -> str:
    """A stable hash of the training text, the lineage of data that has no artifact id."""
    digest = hashlib.sha256()
    for row in rows:
        for name in fields:
            digest.update(str(getattr(row, name)).encode("utf-8"))
            digest.update(b"\x1f")
        digest.update(b"\x1e")
    return "sha256:" + digest.hexdigest()[:16]


def run_id(config: TrainingConfig, lineage: Lineage) -> str:
    """Same config and same data -> same run folder, so a re-run after a crash resumes it."""
    what_trains = config.model_dump(
        mode="json", exclude={"register_version", "experiment_name", "output_dir"}
    )
    payload = json.dumps({"config": what_trains, "datasets": lineage.datasets}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


def fine_tune(
    config: TrainingConfig,
    instruct: Sequence[InstructExample],
    preference: Sequence[PreferenceExample] | None,
    *,
    tuner: FineTuner,
    tracker: ExperimentTracker,
    registry: ModelRegistry | None,
    output_root: Path,
    lineage: Lineage | None = None,
) -> TrainingResult:
    """Base model -> LoRA SFT -> merged SFT model -> LoRA DPO -> merged DPO model -> registry."""
    if not instruct:
        raise ConfigError(
            "no instruction samples to train on: run run-generate-instruct-datasets first "
            "(is the feature store empty?)"
        )
    run_dpo = config.run_dpo and bool(preference)
    if config.run_dpo and not preference:
        logger.warning("no preference samples: DPO is skipped, the SFT model is the result")
    lineage = lineage or Lineage()
    datasets = dict(lineage.datasets)
    datasets.setdefault("instruct_train", content_hash(instruct, ["instruction", "answer"]))
    if preference:
        datasets.setdefault("preference_train", content_hash(preference, ["prompt", "chosen", "rejected"]))
    lineage = Lineage(datasets=datasets, code_version=lineage.code_version, authors=lineage.authors)

    run_dir = config.output_dir or output_root / run_id(config, lineage)
    base_dir = tuner.resolve_base_model(config.base_model)
    stages = ["sft", "dpo"] if run_dpo else ["sft"]
    hyperparameters = config.model_dump(mode="json", exclude={"output_dir"})
    tags = ["llm-twin", *stages, f"base:{config.base_model}"]
    with tracker.start_run(
        f"twin-{'-'.join(stages)}-{run_dir.name}", params=hyperparameters, tags=tags
    ) as run:
        run.log_params(
            {
                "datasets": lineage.datasets,
                "code_version": lineage.code_version,
                "authors": lineage.authors,
                "train_samples": {"instruct": len(instruct), "preference": len(preference or [])},
            }
        )
        logger.info(f"SFT on {len(instruct)} samples from {base_dir} into {run_dir}")
        sft = tuner.train_sft(config, base_dir, instruct, run, run_dir)
        dpo = None
        if run_dpo:
            assert preference is not None
            logger.info(f"DPO on {len(preference)} pairs from the SFT model")
            dpo = tuner.train_dpo(config, sft.weights_dir, preference, run, run_dir)
        result = TrainingResult(run_dir=run_dir, sft=sft, dpo=dpo, experiment_key=run.key)
        if config.register_version and registry is not None:
            card = ModelCard(
                base_model=config.base_model,
                stage_of_training=stages,
                datasets=lineage.datasets,
                hyperparameters=hyperparameters,
                metrics=result.metrics,
                code_version=lineage.code_version,
                authors=lineage.authors,
                experiment_key=run.key,
                related_weights={"base": str(base_dir), "sft": str(sft.weights_dir)},
            )
            result.version = registry.register(result.final_weights, card)
            run.log_params({"registered_version": result.version.version})
            logger.info(f"registered twin version {result.version.version}")
    return result

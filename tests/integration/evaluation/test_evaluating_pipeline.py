"""`run-evaluation` end to end: the ZenML `evaluating` pipeline through the CLI, then `evaluate --json`.

Real ZenML (the session's temporary store), a `twin` version registered with its dataset artifact,
tiny Llamas built in the test, the packaged MiniLM. No judge is configured, so it is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llm_engineering.domain.datasets import DatasetKind, DatasetMetadata, InstructDatasets, InstructSample
from llm_engineering.domain.training import ModelCard
from llm_engineering.settings import Settings
from tests.conftest import REPO_ROOT
from tests.integration.evaluation.conftest import split

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATA_DIR": str(data_dir), "JUDGE_MODEL": "", "LOG_LEVEL": "INFO"}
    result = subprocess.run(
        [sys.executable, "-m", "tools.run", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def _datasets() -> InstructDatasets:
    def samples(rows: list) -> list[InstructSample]:
        return [
            InstructSample(
                instruction=s.instruction,
                answer=s.answer,
                source_document_id=f"{s.author_full_name}-{i}",
                author_full_name=s.author_full_name,
                category="articles",
            )
            for i, s in enumerate(rows)
        ]

    train, test = split()
    return InstructDatasets(
        train=samples(train), test=samples(test), metadata=DatasetMetadata(kind=DatasetKind.INSTRUCTION)
    )


def test_evaluating_pipeline_reports_json_and_updates_the_registry(
    tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path
) -> None:
    from zenml import save_artifact
    from zenml.client import Client

    from llm_engineering.infrastructure.registry import build_registry

    dataset = save_artifact(_datasets(), name="instruct_datasets")
    registry = build_registry(Settings(_env_file=None, DATA_DIR=data_dir))
    card = ModelCard(
        base_model="tiny",
        stage_of_training=["sft", "dpo"],
        datasets={"instruct": str(dataset.id)},
        related_weights={"base": str(tiny_models["base"]), "sft": str(tiny_models["twin"])},
    )
    version = registry.register(tiny_models["twin"], card).version
    config = tmp_path / "evaluating.yaml"
    evaluation = {"max_generated": 2, "max_new_tokens": 8, "max_perplexity_samples": 0, "batch_size": 4}
    config.write_text(yaml.safe_dump({"parameters": {"evaluation": evaluation}}))

    run = _cli("evaluation", "--config", str(config), data_dir=data_dir)
    assert "twin version" in run.stdout

    report = json.loads(_cli("evaluate", "--json", data_dir=data_dir).stdout)
    assert set(report["models"]) == {"base", "sft", "dpo"}
    for scores in report["models"].values():
        assert scores["perplexity"] > 1 and scores["judge"] is None
        assert {"style_similarity", "attribution_accuracy", "rouge_l"} <= set(scores)
    assert report["version"] == version and report["test_samples"] == 8
    assert "JUDGE_MODEL" in report["judge_skipped_reason"]
    assert report["models"]["dpo"]["perplexity"] < report["models"]["base"]["perplexity"]
    promotion = report["promotion"]
    assert promotion["version"] == version and promotion["reason"]

    zen_version = Client().get_model_version("twin", version)
    assert zen_version.run_metadata["metrics"]["eval_perplexity"] == pytest.approx(
        report["models"]["dpo"]["perplexity"]
    )
    stage = "production" if promotion["promoted"] else "none"
    assert str(zen_version.stage) == stage
    assert (registry.production() is not None) == promotion["promoted"]
    listed = json.loads(_cli("models", "list", "--json", data_dir=data_dir).stdout)
    assert [v["version"] for v in listed] == [version]
    assert listed[0]["card"]["metrics"]["eval_perplexity"] == pytest.approx(
        report["models"]["dpo"]["perplexity"]
    )

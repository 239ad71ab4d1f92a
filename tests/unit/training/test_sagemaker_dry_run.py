"""`training --on sagemaker --dry-run` prints the whole job request and calls nothing."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.training_config import TrainingConfig
from llm_engineering.infrastructure.training.sagemaker import SageMakerTarget, build_job_request


def test_dry_run_prints_the_full_job_request(monkeypatch: pytest.MonkeyPatch, data_dir) -> None:
    monkeypatch.setenv("SAGEMAKER_ROLE_ARN", "arn:aws:iam::123456789012:role/twin-training")
    monkeypatch.setenv("SAGEMAKER_S3_BUCKET", "twin-bucket")
    monkeypatch.setenv("SAGEMAKER_INSTANCE_TYPE", "ml.g5.4xlarge")
    monkeypatch.setitem(sys.modules, "sagemaker", None)  # importing it would fail: the dry run must not
    from tools.run import app

    result = CliRunner().invoke(app, ["training", "--on", "sagemaker", "--dry-run"])

    assert result.exit_code == 0, result.output
    request = json.loads(result.output)
    estimator = request["estimator"]
    assert estimator["entry_point"] == "sagemaker_entry.py"
    assert estimator["role"] == "arn:aws:iam::123456789012:role/twin-training"
    assert estimator["instance_type"] == "ml.g5.4xlarge"
    assert estimator["transformers_version"].startswith("5.")
    assert {"pytorch_version", "py_version", "output_path", "checkpoint_s3_uri"} <= set(estimator)
    assert estimator["output_path"] == "s3://twin-bucket/llm-twin/models"
    assert request["fit"]["inputs"] == {"datasets": "s3://twin-bucket/llm-twin/datasets"}
    # the same training config as a local run (from configs/training.yaml), runnable on a GPU
    config = TrainingConfig.model_validate(json.loads(estimator["hyperparameters"]["config"]))
    assert config.sft.lora.r == 16 and config.dpo.beta == 0.1
    assert config.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert config.device == "auto"


def test_dry_run_without_aws_settings_shows_placeholders() -> None:
    request = build_job_request(TrainingConfig(), SageMakerTarget(role_arn="", region="", s3_bucket=""))
    assert request["estimator"]["role"] == "<SAGEMAKER_ROLE_ARN>"
    assert request["fit"]["inputs"]["datasets"].startswith("s3://<SAGEMAKER_S3_BUCKET>/")


def test_a_real_launch_refuses_to_start_without_role_and_bucket() -> None:
    with pytest.raises(ConfigError, match="SAGEMAKER_ROLE_ARN, SAGEMAKER_S3_BUCKET"):
        SageMakerTarget(role_arn="", region="eu-central-1", s3_bucket="").check(dry_run=False)

"""`run-training --on sagemaker`: the same training code and config as a Hugging Face training job.

The job request is built here as plain data, so `--dry-run` prints it without the `sagemaker`
package (an optional Poetry group: `poetry install --with sagemaker`) and without AWS. `launch`
hands the same request to `sagemaker.huggingface.HuggingFace`; it needs AWS credentials and an
execution role, and is untested in this project's offline environment.

On the instance, `sagemaker_entry.py` reads the exported datasets (`datasets export` JSONL) from
the `datasets` channel, runs `fine_tune` with the same `TrainingConfig`, and leaves the merged
weights in `SM_MODEL_DIR` (SageMaker uploads them to `output_path`).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.training_config import TrainingConfig
from llm_engineering.infrastructure.training.models import SMOLLM2
from llm_engineering.settings import REPO_ROOT, Settings

ENTRY_POINT = "sagemaker_entry.py"
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
#: What the job installs on top of the Hugging Face image (transformers and torch come with it).
REQUIREMENTS = [
    "trl>=1.0,<2",
    "peft>=0.13",
    "accelerate>=1.0",
    "datasets>=3.0",
    "comet-ml>=3.45",
    "pydantic>=2.8,<3",
    "pydantic-settings>=2.4,<3",
    "loguru>=0.7,<0.8",
    "filelock>=3.12",
]
#: The Hugging Face training image (AWS deep learning containers) with transformers 5; the SDK
#: resolves the image from these versions unless SAGEMAKER_TRAINING_IMAGE names one.
IMAGE = {"transformers_version": "5.3.0", "pytorch_version": "2.9.0", "py_version": "py312"}


@dataclass(frozen=True)
class SageMakerTarget:
    role_arn: str
    region: str
    s3_bucket: str
    instance_type: str = "ml.g5.2xlarge"
    instance_count: int = 1
    volume_size_gb: int = 50
    max_run_s: int = 6 * 3600
    image_uri: str = ""
    s3_prefix: str = "llm-twin"

    @classmethod
    def from_settings(cls, settings: Settings) -> SageMakerTarget:
        return cls(
            role_arn=settings.SAGEMAKER_ROLE_ARN,
            region=settings.AWS_REGION,
            s3_bucket=settings.SAGEMAKER_S3_BUCKET,
            instance_type=settings.SAGEMAKER_INSTANCE_TYPE,
            instance_count=settings.SAGEMAKER_INSTANCE_COUNT,
            image_uri=settings.SAGEMAKER_TRAINING_IMAGE,
        )

    def check(self, *, dry_run: bool) -> None:
        """A dry run shows placeholders for what is missing; a launch refuses to start without it."""
        missing = [
            name
            for name, value in (
                ("SAGEMAKER_ROLE_ARN", self.role_arn),
                ("SAGEMAKER_S3_BUCKET", self.s3_bucket),
                ("AWS_REGION", self.region),
            )
            if not value
        ]
        if missing and not dry_run:
            raise ConfigError(
                f"a SageMaker launch needs {', '.join(missing)}: set them in .env (see .env.example)"
            )


def build_job_request(
    config: TrainingConfig, target: SageMakerTarget, *, job_name: str | None = None
) -> dict[str, Any]:
    """Everything the Hugging Face estimator and `fit()` get, as JSON-able data."""
    job_name = job_name or _job_name()
    bucket = target.s3_bucket or "<SAGEMAKER_S3_BUCKET>"
    base = f"s3://{bucket}/{target.s3_prefix}"
    # the job has no local GGUF: the default base model comes from the Hub there
    base_model = SMOLLM2_HUB_ID if config.base_model == SMOLLM2 else config.base_model
    on_gpu = config.model_copy(
        update={"base_model": base_model, "device": "auto", "precision": "auto", "output_dir": None}
    )
    return {
        "job_name": job_name,
        "region": target.region or "<AWS_REGION>",
        "estimator": {
            "entry_point": ENTRY_POINT,
            "source_dir": "<staged: llm_engineering/ + sagemaker_entry.py + requirements.txt>",
            "role": target.role_arn or "<SAGEMAKER_ROLE_ARN>",
            "instance_type": target.instance_type,
            "instance_count": target.instance_count,
            "volume_size": target.volume_size_gb,
            "max_run": target.max_run_s,
            "image_uri": target.image_uri or None,
            "transformers_version": IMAGE["transformers_version"],
            "pytorch_version": IMAGE["pytorch_version"],
            "py_version": IMAGE["py_version"],
            "output_path": f"{base}/models",
            "checkpoint_s3_uri": f"{base}/checkpoints/{job_name}",
            "checkpoint_local_path": "/opt/ml/checkpoints",
            "hyperparameters": {"config": json.dumps(on_gpu.model_dump(mode="json"), sort_keys=True)},
            "environment": {
                "COMET_PROJECT": "llm-twin",
                "HF_HUB_DISABLE_TELEMETRY": "1",
                "TOKENIZERS_PARALLELISM": "false",
            },
            "requirements": list(REQUIREMENTS),
        },
        "fit": {"inputs": {"datasets": f"{base}/datasets"}, "job_name": job_name, "wait": False},
    }


def stage_source_dir() -> Path:
    """The code the job runs: this package, the entry point and its requirements."""
    staged = Path(tempfile.mkdtemp(prefix="llm-twin-sagemaker-"))
    shutil.copytree(
        REPO_ROOT / "llm_engineering",
        staged / "llm_engineering",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copy2(Path(__file__).with_name(ENTRY_POINT), staged / ENTRY_POINT)
    (staged / "requirements.txt").write_text("\n".join(REQUIREMENTS) + "\n", encoding="utf-8")
    return staged


def launch(request: dict[str, Any], target: SageMakerTarget) -> str:  # pragma: no cover - needs AWS
    """Start the job; returns its name. Needs `poetry install --with sagemaker` and AWS credentials."""
    target.check(dry_run=False)
    try:
        from sagemaker.huggingface import HuggingFace
    except ImportError:
        raise ConfigError(
            "the sagemaker package is not installed: `poetry install --with sagemaker` (sagemaker>=2.232,<3)"
        ) from None
    kwargs = dict(request["estimator"])
    kwargs.pop("requirements")
    kwargs["source_dir"] = str(stage_source_dir())
    estimator = HuggingFace(**kwargs)
    estimator.fit(**request["fit"])
    return request["job_name"]


def _job_name() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return re.sub(r"[^a-zA-Z0-9-]", "-", f"llm-twin-training-{stamp}")[:63]

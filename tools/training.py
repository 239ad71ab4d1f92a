"""`python -m tools.run training [--on local|sagemaker] [--dry-run]` and `python -m tools.run experiments`."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from llm_engineering.domain.run_configs import TrainingRunConfig
from llm_engineering.settings import get_settings
from tools.configs import load_config
from tools.pipelines import PipelineSpec, run_pipeline

DEFAULT_CONFIG = "configs/training.yaml"


def _print_result(run: Any) -> None:
    result = run.steps["fine_tune_twin"].outputs["training_result"][0].load()
    typer.echo(json.dumps(result, indent=2))


TRAINING = PipelineSpec(
    command="training",
    pipeline="pipelines.training:training",
    config_model=TrainingRunConfig,
    default_config=DEFAULT_CONFIG,
    help="Fine-tune the twin: LoRA SFT then DPO, merged and registered (or a SageMaker job).",
    after=_print_result,
)


class Target(StrEnum):
    local = "local"
    sagemaker = "sagemaker"


def training(
    config: Annotated[Path, typer.Option("--config", "-c", help="The run's YAML config.")] = Path(
        DEFAULT_CONFIG
    ),
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse cached step outputs.")] = False,
    on: Annotated[
        Target, typer.Option("--on", help="Where to train: this machine or a SageMaker job.")
    ] = Target.local,
    dry_run: Annotated[
        bool, typer.Option("--dry-run/--no-dry-run", help="With --on sagemaker: print the job request only.")
    ] = False,
) -> None:
    """Fine-tune the twin: LoRA SFT then DPO, merged and registered (or a SageMaker job)."""
    if on is Target.sagemaker:
        sagemaker(config, dry_run=dry_run)
        return
    from tools.run import prepare_run

    prepare_run()
    run_pipeline(TRAINING, config, cache=cache, overrides={})


def sagemaker(config: Path, *, dry_run: bool) -> dict[str, Any]:
    from llm_engineering.infrastructure.training.sagemaker import SageMakerTarget, build_job_request, launch

    run_config = load_config(config, TrainingRunConfig)
    target = SageMakerTarget.from_settings(get_settings())
    target.check(dry_run=dry_run)
    request = build_job_request(run_config.parameters.training, target)
    if dry_run:
        typer.echo(json.dumps(request, indent=2))
    else:
        typer.echo(f"started SageMaker training job {launch(request, target)}")
    return request


def experiments(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array instead of a table.")] = False,
) -> None:
    """List the locally recorded (offline Comet) runs with their key metrics."""
    from llm_engineering.infrastructure.tracking.comet import list_offline_runs

    runs = list_offline_runs(get_settings().DATA_DIR.resolve() / "comet")
    keys = [
        "sft/final_loss",
        "dpo/final_loss",
        "dpo/rewards/margins",
        "dpo/rewards/accuracies",
        "sft/train_tokens_per_s",
    ]
    rows = [
        {
            "key": run.key,
            "name": run.name,
            "started": run.started_at,
            "tags": run.tags,
            "metrics": {key: run.last(key) for key in keys if run.last(key) is not None}
            | {key: values[-1][1] for key, values in run.metrics.items() if _is_evaluation(key)},
            "archive": str(run.archive),
        }
        for run in runs
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Experiments ({len(rows)} offline runs; upload with `comet upload <archive>`)")
    for column in ("key", "name", "started", "metrics"):
        table.add_column(column)
    for row in rows:
        started = (
            datetime.fromtimestamp(row["started"], UTC).strftime("%Y-%m-%d %H:%M") if row["started"] else ""
        )
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in row["metrics"].items())
        table.add_row(row["key"][:12], row["name"] or "", started or "", metrics)
    Console().print(table)


_EVALUATION_WORDS = ("perplexity", "rouge", "style_similarity", "attribution", "judge")


def _is_evaluation(metric: str) -> bool:
    return any(word in metric for word in _EVALUATION_WORDS)

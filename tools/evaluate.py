"""`python -m tools.run evaluate [--json]`: the latest evaluation of the twin (the `evaluating` run)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from llm_engineering.domain.training import EvaluationError, EvaluationReport

REPORT_ARTIFACT = "evaluation_report"


def latest_report() -> EvaluationReport:
    """The newest `evaluation_report` artifact in ZenML's store."""
    from zenml.client import Client

    try:
        version = Client().get_artifact_version(REPORT_ARTIFACT)
    except KeyError:
        raise EvaluationError("no evaluation yet: run `poetry poe run-evaluation` first") from None
    return version.load()


def evaluate(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Print the latest evaluation: perplexity, style similarity, attribution, ROUGE-L, judge."""
    from llm_engineering.settings import get_settings
    from tools.cli import configure_logging
    from tools.zenml_env import prepare_zenml

    settings = get_settings()
    configure_logging(settings.LOG_LEVEL)
    prepare_zenml(settings)
    report = latest_report()
    if as_json:
        typer.echo(json.dumps(report.to_public_json()))
    else:
        print_report(report)


def print_report(report: EvaluationReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"twin version {report.version}: {report.test_samples} test samples")
    for column in ("model", "perplexity", "style sim.", "attribution", "ROUGE-L", "judge acc/style", "s"):
        table.add_column(column, justify="left" if column == "model" else "right")

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for label, model in report.models.items():
        judge = f"{model.judge.accuracy:.2f}/{model.judge.style:.2f}" if model.judge else "-"
        table.add_row(
            label,
            fmt(model.perplexity),
            fmt(model.style_similarity),
            fmt(model.attribution_accuracy),
            fmt(model.rouge_l),
            judge,
            f"{model.seconds:.0f}",
        )
    console = Console()
    console.print(table)
    for note in (report.judge_skipped_reason, report.attribution_skipped_reason):
        if note:
            console.print(f"skipped: {note}")
    if report.promotion is not None:
        verdict = "promoted" if report.promotion.promoted else "not promoted"
        console.print(f"{verdict}: {report.promotion.reason}")


def print_run(run: Any) -> None:
    """After `run-evaluation`: the report the run produced."""
    print_report(run.steps["evaluate_twin"].outputs[REPORT_ARTIFACT][0].load())

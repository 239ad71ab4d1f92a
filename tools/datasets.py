"""`python -m tools.run datasets ...`: the latest generated datasets, out of the ZenML store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from llm_engineering.domain.datasets import DatasetError, DatasetKind
from llm_engineering.settings import get_settings

app = typer.Typer(help="Fine-tuning datasets (instruction and preference).", no_args_is_help=True)


def print_run(run: Any) -> None:
    """After `generate-datasets`: what the run produced, per split and author, and what it dropped."""
    for kind in DatasetKind:
        step = {"instruction": "generate_instruct_datasets", "preference": "generate_preference_datasets"}[
            kind
        ]
        if step in run.steps:
            datasets = run.steps[step].outputs[kind.artifact_name][0].load()
            _print_summary(datasets)


def _print_summary(datasets: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    meta = datasets.metadata
    table = Table(title=f"{meta.kind.artifact_name}: samples per author")
    for column in ("author", "train", "test"):
        table.add_column(column, justify="left" if column == "author" else "right")
    authors = sorted(
        set(meta.samples_per_author.get("train", {})) | set(meta.samples_per_author.get("test", {}))
    )
    for author in authors:
        table.add_row(
            author,
            str(meta.samples_per_author.get("train", {}).get(author, 0)),
            str(meta.samples_per_author.get("test", {}).get(author, 0)),
        )
    console = Console()
    console.print(table)
    tokens = meta.answer_tokens
    console.print(
        f"documents train/test: {meta.documents.get('train', 0)}/{meta.documents.get('test', 0)}; "
        f"answer tokens p50 {tokens.p50:.0f}, p95 {tokens.p95:.0f}, max {tokens.max}; "
        f"dropped: {meta.filter_drops or 'nothing'}"
    )


@app.command()
def export(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the JSONL files (created if missing).")],
    push: Annotated[
        bool,
        typer.Option("--push/--no-push", help="Also push to the Hub when HUGGINGFACE_ACCESS_TOKEN is set."),
    ] = True,
) -> None:
    """Write the latest datasets as JSONL: instruct_{train,test}.jsonl and preference_{train,test}.jsonl."""
    from llm_engineering.infrastructure.datasets.artifacts import load_latest_datasets
    from llm_engineering.infrastructure.datasets.export import push_to_hub, write_jsonl
    from tools.run import prepare_run

    prepare_run()
    settings = get_settings()
    found = 0
    for kind in DatasetKind:
        try:
            datasets = load_latest_datasets(kind)
        except DatasetError as exc:
            typer.echo(f"skipped {kind.value}: {exc}", err=True)
            continue
        found += 1
        for name, rows in write_jsonl(datasets, out_dir).items():
            typer.echo(f"{out_dir / name}: {rows} rows")
        token = settings.HUGGINGFACE_ACCESS_TOKEN
        if push and token is not None and token.get_secret_value():
            repo_id = f"{settings.DATASETS_HUB_REPO}-{kind.file_prefix}"
            typer.echo(f"pushed to the Hugging Face Hub: {push_to_hub(datasets, repo_id, token)}")
    if not found:
        raise DatasetError(
            "no datasets in the ZenML store yet: run poetry poe run-generate-instruct-datasets "
            "(and run-generate-preference-datasets) first"
        )

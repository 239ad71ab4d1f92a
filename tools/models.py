"""`python -m tools.run models ...`: the `twin` versions in the registry."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from llm_engineering.settings import get_settings

app = typer.Typer(help="Versions of the twin model (list, promote, push).", no_args_is_help=True)


def _registry(*, zenml: bool) -> object:
    from llm_engineering.infrastructure.registry import build_registry
    from tools.cli import configure_logging
    from tools.zenml_env import prepare_zenml

    settings = get_settings()
    configure_logging(settings.LOG_LEVEL)
    prepare_zenml(settings)
    return build_registry(settings, zenml=zenml)


@app.command("list")
def list_versions(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
) -> None:
    """Every registered version, its stage, base model, training stages and metrics."""
    versions = _registry(zenml=False).list_versions()  # type: ignore[attr-defined]
    if as_json:
        typer.echo(json.dumps([v.model_dump(mode="json") for v in versions]))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="twin versions")
    for column in ("version", "stage", "base model", "trained", "created", "metrics"):
        table.add_column(column)
    for v in versions:
        metrics = ", ".join(f"{k}={val:.3g}" for k, val in sorted(v.card.metrics.items()))
        table.add_row(
            v.version,
            v.stage or "",
            v.card.base_model,
            " -> ".join(v.card.stage_of_training),
            v.card.created_at.strftime("%Y-%m-%d %H:%M"),
            metrics,
        )
    Console().print(table)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="The version to promote, as `models list` shows it.")],
    stage: Annotated[str, typer.Option("--stage", help="production, staging or archived.")] = "production",
) -> None:
    """Give a version a stage; `production` is what the inference service serves."""
    promoted = _registry(zenml=True).promote(version, stage)  # type: ignore[attr-defined]
    typer.echo(f"twin version {promoted.version} is now {promoted.stage}: {promoted.weights_dir}")


@app.command()
def push(
    version: Annotated[str, typer.Argument(help="The version to upload.")],
    repo_id: Annotated[str, typer.Option("--repo-id", help="The Hub repository, e.g. you/llm-twin.")],
    public: Annotated[bool, typer.Option("--public", help="Create the repository public.")] = False,
) -> None:
    """Upload a version (weights, tokenizer, model card) to the Hugging Face Hub. Untested offline."""
    from llm_engineering.infrastructure.registry.hub import push_to_hub

    model = _registry(zenml=False).get(version)  # type: ignore[attr-defined]
    url = push_to_hub(model, repo_id, get_settings().HUGGINGFACE_ACCESS_TOKEN, private=not public)
    typer.echo(f"pushed twin version {version} to {url}")

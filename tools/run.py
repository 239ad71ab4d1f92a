"""LLM Twin's command line: `python -m tools.run --help`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from loguru import logger

from llm_engineering.domain.exceptions import LLMTwinException
from llm_engineering.domain.run_configs import EtlRunConfig, FeatureRunConfig, RetrievalEvalRunConfig
from llm_engineering.settings import Settings, get_settings
from tools.cli import run_app
from tools.configs import load_config, resolve_config_path
from tools.zenml_env import prepare_zenml

app = typer.Typer(help="LLM Twin pipelines.", no_args_is_help=True, pretty_exceptions_enable=False)

SAMPLE_ETL_CONFIG = Path("configs/digital_data_etl_sample.yaml")
FEATURE_CONFIG = Path("configs/feature_engineering.yaml")
EVAL_CONFIG = Path("configs/retrieval_evaluation.yaml")
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The run's YAML config.")]
CacheOption = Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse cached step outputs.")]


def _setup(settings: Settings) -> None:
    logger.remove()
    logger.add(
        sys.stderr, level=settings.LOG_LEVEL.upper(), format="{time:HH:mm:ss} | {level: <7} | {message}"
    )
    prepare_zenml(settings)


def _run_pipeline(pipeline: Any, config: Path, cache: bool, overrides: dict[str, Any] | None = None) -> Any:
    config = resolve_config_path(config)
    if overrides:  # ZenML rejects a parameter given both in YAML and in code: write a patched copy
        import tempfile

        import yaml

        raw = yaml.safe_load(config.read_text(encoding="utf-8"))
        raw.setdefault("parameters", {}).update(overrides)
        patched = Path(tempfile.mkdtemp(prefix="llm-twin-config-")) / config.name
        patched.write_text(yaml.safe_dump(raw), encoding="utf-8")
        config = patched
    options: dict[str, Any] = {"config_path": str(config)}
    if not cache:
        options["enable_cache"] = False
    try:
        return pipeline.with_options(**options)()
    except RuntimeError as exc:  # ZenML reports a failed step as a RuntimeError: name the cause
        raise PipelineFailed(f"{pipeline.name} failed: {_failed_step_reason(pipeline.name) or exc}") from None


class PipelineFailed(LLMTwinException):
    """A pipeline run ended in a failed step."""


def _failed_step_reason(pipeline_name: str) -> str | None:
    from zenml.client import Client

    runs = Client().list_pipeline_runs(pipeline_name=pipeline_name, sort_by="desc:created", size=1).items
    if not runs:
        return None
    for name, step_run in Client().get_pipeline_run(runs[0].id).steps.items():
        info = step_run.exception_info
        if step_run.status == "failed" and info is not None:
            return f"step {name}: {info.message.strip().splitlines()[-1]}"
    return None


@app.command()
def etl(config: ConfigOption = SAMPLE_ETL_CONFIG, cache: CacheOption = False) -> None:
    """Crawl a person's links and exports into the data warehouse."""
    settings = get_settings()
    _setup(settings)
    load_config(config, EtlRunConfig)  # fail on a bad config before ZenML starts
    from pipelines.digital_data_etl import digital_data_etl

    _run_pipeline(digital_data_etl, config, cache)
    summary()


@app.command()
def features(
    config: ConfigOption = FEATURE_CONFIG,
    full: Annotated[bool, typer.Option("--full", help="Rebuild the feature store from scratch.")] = False,
) -> None:
    """Clean, chunk and embed the warehouse into the vector DB (only what changed)."""
    settings = get_settings()
    _setup(settings)
    load_config(config, FeatureRunConfig)
    from pipelines.feature_engineering import feature_engineering

    _run_pipeline(feature_engineering, config, cache=False, overrides={"full": True} if full else None)


@app.command("retrieval-eval")
def retrieval_eval(config: ConfigOption = EVAL_CONFIG) -> None:
    """hit@k, recall@k and MRR@10 of retrieval on a labelled query set (ZenML metadata)."""
    settings = get_settings()
    _setup(settings)
    load_config(config, RetrievalEvalRunConfig)
    from pipelines.retrieval_evaluation import retrieval_evaluation

    run = _run_pipeline(retrieval_evaluation, config, cache=False)
    reports = run.steps["evaluate_retrieval"].outputs["retrieval_eval"][0].load()
    for report in reports:
        typer.echo(f"{settings.EMBEDDING_BACKEND}/{report.mode}: {report.metrics()}")


@app.command()
def summary() -> None:
    """Print what the data warehouse holds, per author and collection."""
    from rich.console import Console
    from rich.table import Table

    from llm_engineering import bootstrap
    from llm_engineering.domain.documents import CONTENT_DOCUMENT_TYPES, UserDocument

    repository = bootstrap.connect_warehouse(get_settings())
    try:
        table = Table(title="Data warehouse")
        table.add_column("author")
        for doc_type in CONTENT_DOCUMENT_TYPES:
            table.add_column(doc_type.collection, justify="right")
        for user in repository.iter_all(UserDocument):
            counts = [str(repository.count(t, author_id=user.id)) for t in CONTENT_DOCUMENT_TYPES]
            table.add_row(user.full_name, *counts)  # type: ignore[attr-defined]
        Console().print(table)
    finally:
        repository.close()


@app.command()
def demo() -> None:
    """Run the whole demo on the bundled sample person and the embedded stores."""
    etl(SAMPLE_ETL_CONFIG, cache=False)
    features(FEATURE_CONFIG, full=False)
    vector_summary()


@app.command("vector-summary")
def vector_summary() -> None:
    """Print how many points each feature-store collection holds."""
    from rich.console import Console
    from rich.table import Table

    from llm_engineering import bootstrap

    table = Table(title="Feature store")
    table.add_column("collection")
    table.add_column("points", justify="right")
    with bootstrap.vector_index(get_settings(), mode="reader") as index:
        for name in sorted(index.list_collections()):
            table.add_row(name, str(index.count(name)))
    Console().print(table)


@app.command()
def dashboard(
    stop: Annotated[bool, typer.Option("--stop", help="Stop the local dashboard.")] = False,
) -> None:
    """Start (or stop) ZenML's local dashboard on 127.0.0.1:8237."""
    import subprocess

    _setup(get_settings())
    zenml = [str(Path(sys.executable).with_name("zenml"))]
    if stop:
        subprocess.run([*zenml, "logout", "--local"], check=True)
        return
    subprocess.run([*zenml, "login", "--local", "--ip-address", "127.0.0.1", "--port", "8237"], check=True)
    typer.echo(
        "Dashboard: http://127.0.0.1:8237/projects/default/runs  (stop: poetry poe zenml-dashboard-stop)"
    )


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()

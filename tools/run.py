"""LLM Twin's command line: `python -m tools.run --help`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from loguru import logger

from llm_engineering.domain.exceptions import LLMTwinException
from llm_engineering.domain.run_configs import EtlRunConfig
from llm_engineering.settings import Settings, get_settings
from tools.configs import load_config, resolve_config_path
from tools.zenml_env import prepare_zenml

app = typer.Typer(help="LLM Twin pipelines.", no_args_is_help=True, pretty_exceptions_enable=False)

SAMPLE_ETL_CONFIG = Path("configs/digital_data_etl_sample.yaml")
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The run's YAML config.")]
CacheOption = Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse cached step outputs.")]


def _setup(settings: Settings) -> None:
    logger.remove()
    logger.add(sys.stderr, level=settings.LOG_LEVEL.upper(), format="{time:HH:mm:ss} | {level: <7} | {message}")
    prepare_zenml(settings)


def _run_pipeline(pipeline: Any, config: Path, cache: bool) -> Any:
    options: dict[str, Any] = {"config_path": str(resolve_config_path(config))}
    if not cache:
        options["enable_cache"] = False
    return pipeline.with_options(**options)()


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


@app.command()
def dashboard(stop: Annotated[bool, typer.Option("--stop", help="Stop the local dashboard.")] = False) -> None:
    """Start (or stop) ZenML's local dashboard on 127.0.0.1:8237."""
    import subprocess

    _setup(get_settings())
    zenml = [str(Path(sys.executable).with_name("zenml"))]
    if stop:
        subprocess.run([*zenml, "logout", "--local"], check=True)
        return
    subprocess.run([*zenml, "login", "--local", "--ip-address", "127.0.0.1", "--port", "8237"], check=True)
    typer.echo("Dashboard: http://127.0.0.1:8237/projects/default/runs  (stop: poetry poe zenml-dashboard-stop)")


def main() -> None:
    try:
        app()
    except LLMTwinException as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()

"""LLM Twin's command line: `python -m tools.run --help`.

Every pipeline is one row of `PIPELINES`; its command validates the YAML, runs the pipeline and
reports a failed step in one line. The other commands inspect the stores.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from llm_engineering.domain.run_configs import (
    EtlRunConfig,
    EvaluatingRunConfig,
    FeatureRunConfig,
    GenerateDatasetsRunConfig,
    RagEvalRunConfig,
    RetrievalEvalRunConfig,
)
from llm_engineering.settings import get_settings
from tools.cli import configure_logging, run_app
from tools.pipelines import PipelineSpec, run_pipeline
from tools.zenml_env import prepare_zenml

app = typer.Typer(help="LLM Twin pipelines.", no_args_is_help=True, pretty_exceptions_enable=False)


def _print_retrieval_eval(run: Any) -> None:
    reports = run.steps["evaluate_retrieval"].outputs["retrieval_eval"][0].load()
    for report in reports:
        typer.echo(f"{get_settings().EMBEDDING_BACKEND}/{report.mode}: {report.metrics()}")


def _print_rag_eval(run: Any) -> None:
    report = run.steps["score_answers"].outputs["rag_eval_report"][0].load()
    typer.echo(f"rag-eval: {report.metrics()}")


def _print_evaluation(run: Any) -> None:
    from tools.evaluate import print_run

    print_run(run)


def _print_datasets(run: Any) -> None:
    from tools.datasets import print_run

    print_run(run)


def _print_crawl_report(run: Any) -> None:
    """The run's counts per domain (also ZenML metadata), then what the warehouse holds."""
    from rich.console import Console
    from rich.table import Table

    report = run.steps["crawl_links"].outputs["crawl_report"][0].load()
    table = Table(title="This run, per domain")
    for column in ("domain", "inserted", "updated", "unchanged", "failed"):
        table.add_column(column, justify="left" if column == "domain" else "right")
    for domain, stats in sorted(report.per_domain().items()):
        failed = ", ".join(f"{kind} {n}" for kind, n in sorted(stats["failed_by_kind"].items())) or "0"
        table.add_row(
            domain,
            str(stats["documents_inserted"]),
            str(stats["documents_updated"]),
            str(stats["skipped_unchanged"]),
            failed,
        )
    Console().print(table)
    summary()


PIPELINES: list[PipelineSpec] = [
    PipelineSpec(
        command="etl",
        pipeline="pipelines.digital_data_etl:digital_data_etl",
        config_model=EtlRunConfig,
        default_config="configs/digital_data_etl_sample.yaml",
        help="Crawl a person's links and exports into the data warehouse.",
        after=_print_crawl_report,
    ),
    PipelineSpec(
        command="features",
        pipeline="pipelines.feature_engineering:feature_engineering",
        config_model=FeatureRunConfig,
        default_config="configs/feature_engineering.yaml",
        help="Clean, chunk and embed the warehouse into the vector DB (only what changed).",
        flags={"full": "Rebuild the feature store from scratch."},
        run_lock=lambda settings: settings.vector_dir / "feature-run.lock",
    ),
    PipelineSpec(
        command="retrieval-eval",
        pipeline="pipelines.retrieval_evaluation:retrieval_evaluation",
        config_model=RetrievalEvalRunConfig,
        default_config="configs/retrieval_evaluation.yaml",
        help="hit@k, recall@k and MRR@10 of retrieval on a labelled query set (ZenML metadata).",
        after=_print_retrieval_eval,
    ),
    PipelineSpec(
        command="evaluation",
        pipeline="pipelines.evaluating:evaluating",
        config_model=EvaluatingRunConfig,
        default_config="configs/evaluating.yaml",
        help="Score the latest twin version, its SFT and base models on the test split; promote if better.",
        after=_print_evaluation,
    ),
    PipelineSpec(
        command="generate-datasets",
        pipeline="pipelines.generate_datasets:generate_datasets",
        config_model=GenerateDatasetsRunConfig,
        default_config="configs/generate_instruct_datasets.yaml",
        help="Instruction or preference datasets from the feature store (configs/generate_*.yaml).",
        after=_print_datasets,
    ),
    PipelineSpec(
        command="rag-eval",
        pipeline="pipelines.rag_evaluation:rag_evaluation",
        config_model=RagEvalRunConfig,
        default_config="configs/rag_evaluation.yaml",
        help="The twin answers a question set end to end: citation hit rate, grounding, length, latency.",
        after=_print_rag_eval,
    ),
]


def prepare_run() -> None:
    """What every command that runs a pipeline needs first: logging, and ZenML on its local store."""
    settings = get_settings()
    configure_logging(settings.LOG_LEVEL)
    prepare_zenml(settings)


def _pipeline_command(spec: PipelineSpec) -> Any:
    def command(config: Path, cache: bool, **flags: bool) -> Any:
        prepare_run()
        overrides = {name: True for name, on in flags.items() if on}
        return run_pipeline(spec, config, cache=cache, overrides=overrides)

    parameters = [
        inspect.Parameter(
            "config",
            inspect.Parameter.KEYWORD_ONLY,
            default=Path(spec.default_config),
            annotation=Annotated[Path, typer.Option("--config", "-c", help="The run's YAML config.")],
        ),
        inspect.Parameter(
            "cache",
            inspect.Parameter.KEYWORD_ONLY,
            default=False,
            annotation=Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse cached step outputs.")],
        ),
        *(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=False,
                annotation=Annotated[bool, typer.Option(f"--{name.replace('_', '-')}", help=text)],
            )
            for name, text in spec.flags.items()
        ),
    ]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__doc__ = spec.help
    command.__name__ = spec.command.replace("-", "_")
    return command


def pipeline_command(name: str) -> Any:
    """The command function of pipeline `name`, callable from Python with keyword arguments."""
    spec = next(spec for spec in PIPELINES if spec.command == name)
    return _pipeline_command(spec)


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


DEMO_QUESTION = "What does Ada Sample say about making a RAG system cite its sources?"


@app.command()
def demo() -> None:
    """The whole demo on the bundled sample person: ETL, features, then the twin answers a question."""
    pipeline_command("etl")(config=Path("configs/digital_data_etl_sample.yaml"), cache=False)
    pipeline_command("features")(config=Path("configs/feature_engineering.yaml"), cache=False, full=False)
    vector_summary()
    ask(DEMO_QUESTION, max_tokens=100)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="What to ask the twin.")],
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, max=4096)] = 256,
) -> None:
    """Ask the twin one question: its answer, then the sources it was given (cited ones marked)."""
    from rich.console import Console
    from rich.table import Table

    from llm_engineering.infrastructure.api.runtime import answer_once

    configure_logging(get_settings().LOG_LEVEL)
    console = Console()
    console.print(f"[bold]Q:[/bold] {question}")
    answer = answer_once(get_settings(), question, max_tokens=max_tokens)
    console.print(f"[bold]A:[/bold] {answer.text.strip()}")
    table = Table(title="Sources")
    for column in ("#", "cited", "title", "author", "link"):
        table.add_column(column)
    for source in answer.sources:
        cited = "yes" if source.cited else ""
        table.add_row(str(source.number), cited, source.title, source.author_full_name, source.link or "")
    console.print(table)


@app.command("vector-summary")
def vector_summary() -> None:
    """Print how many points each feature-store collection holds."""
    from rich.console import Console
    from rich.table import Table

    from llm_engineering import bootstrap

    table = Table(title="Feature store")
    table.add_column("collection")
    table.add_column("points", justify="right")
    with bootstrap.Services(get_settings()).vector_reader() as index:
        for name in sorted(index.list_collections()):
            table.add_row(name, str(index.count(name)))
    Console().print(table)


@app.command()
def dashboard(
    stop: Annotated[bool, typer.Option("--stop", help="Stop the local dashboard.")] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port on 127.0.0.1.")] = 8237,
) -> None:
    """Start (or stop) ZenML's local dashboard on 127.0.0.1 (port 8237 unless --port)."""
    import subprocess

    prepare_run()
    zenml = [str(Path(sys.executable).with_name("zenml"))]
    if stop:
        subprocess.run([*zenml, "logout", "--local"], check=True)
        return
    url = f"http://127.0.0.1:{port}"
    subprocess.run([*zenml, "login", "--local", "--ip-address", "127.0.0.1", "--port", str(port)], check=True)
    skip_onboarding(url)
    typer.echo(f"Dashboard: {url}/projects/default/runs  (stop: poetry poe zenml-dashboard-stop)")


def skip_onboarding(server_url: str) -> None:
    """Answer the local dashboard's first-visit account form for the user, opting in to nothing.

    The dashboard shows its survey while the user's `email_opted_in` is unset or its
    `user_metadata` lacks `finished_onboarding_survey`: set both (no e-mail, no answers).
    Only for the local server this command started: its default user has no password.
    """
    import httpx

    from llm_engineering.domain.exceptions import LLMTwinException

    with httpx.Client(base_url=server_url, timeout=10, trust_env=False) as client:
        login = client.post("/api/v1/login", data={"username": "default", "password": ""})
        if login.status_code != 200:
            raise LLMTwinException(f"the local dashboard refused the default login ({login.status_code})")
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        me = client.get("/api/v1/current-user", params={"hydrate": True})
        metadata = (me.json().get("metadata") or {}).get("user_metadata") or {} if me.is_success else {}
        answer = client.put(
            "/api/v1/current-user",
            json={"email_opted_in": False, "user_metadata": {**metadata, "finished_onboarding_survey": True}},
        )
        if answer.status_code >= 400:
            raise LLMTwinException(f"could not skip the dashboard's first-visit form ({answer.status_code})")


# --- registration: pipelines from the table, then sub-apps of other areas --------------------------
for _spec in PIPELINES:
    app.command(_spec.command, help=_spec.help)(_pipeline_command(_spec))

from tools.evaluate import evaluate as evaluate_command  # noqa: E402  (evaluation, training issue)
from tools.models import app as models_app  # noqa: E402  (model registry, training issue)

app.add_typer(models_app, name="models")
from tools.datasets import app as datasets_app  # noqa: E402  (datasets, training issue)

app.add_typer(datasets_app, name="datasets")
app.command("evaluate")(evaluate_command)
from tools.training import experiments, training  # noqa: E402  (fine-tuning, training issue)

# `training` is the pipeline of tools.training.TRAINING plus `--on sagemaker [--dry-run]`
app.command("training", help=training.__doc__)(training)
app.command("experiments")(experiments)


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()

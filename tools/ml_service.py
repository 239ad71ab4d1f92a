"""The twin's inference service: `python -m tools.ml_service --host 127.0.0.1 --port 8000 [--config ...]`.

`python -m tools.ml_service ask "QUESTION"` asks a running service one question and prints the
answer and its sources (the `call-inference-ml-service` task).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from loguru import logger

from llm_engineering.domain.exceptions import LLMTwinException
from llm_engineering.settings import get_settings
from tools.cli import run_app

app = typer.Typer(
    help="The twin's inference service (RAG + OpenAI-compatible API).",
    no_args_is_help=False,
    pretty_exceptions_enable=False,
)

DEFAULT_QUESTION = "What do you write about? Summarise your main ideas."


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="RAG and service YAML (default INFERENCE_CONFIG).")
    ] = None,
) -> None:
    """Serve the twin: POST /rag, POST /v1/chat/completions, GET /v1/models, GET /health, GET /."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from llm_engineering.infrastructure.api.app import create_app
    from llm_engineering.infrastructure.api.config import load_inference_config

    settings = get_settings()
    logger.remove()
    logger.add(
        sys.stderr, level=settings.LOG_LEVEL.upper(), format="{time:HH:mm:ss} | {level: <7} | {message}"
    )
    inference = load_inference_config(config or settings.INFERENCE_CONFIG)
    logger.info("serving the twin on http://{}:{} (loading models in the background)", host, port)
    uvicorn.run(create_app(settings, inference), host=host, port=port, log_level="warning")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="What to ask the twin.")] = DEFAULT_QUESTION,
    url: Annotated[str, typer.Option("--url", help="The service's base URL.")] = "http://127.0.0.1:8000",
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON answer.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the answer.")] = 300.0,
) -> None:
    """Ask a running service one question (POST /rag); print the answer and its sources."""
    import httpx

    settings = get_settings()
    headers = {"Authorization": f"Bearer {settings.API_KEY.get_secret_value()}"} if settings.API_KEY else {}
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/rag", json={"query": question}, headers=headers, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise ServiceUnreachable(
            f"the service at {url} did not answer ({type(exc).__name__}): start it with "
            "`poetry poe run-inference-ml-service`"
        ) from exc
    if response.status_code != 200:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise LLMTwinException(f"the service answered HTTP {response.status_code}: {message}")
    body = response.json()
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    print_answer(body["answer"], body["sources"])


def print_answer(answer: str, sources: list[dict]) -> None:
    typer.echo(answer.strip())
    if sources:
        typer.echo("\nSources:")
    for source in sources:
        mark = "*" if source.get("cited") else " "
        typer.echo(f" {mark}[{source['number']}] {source['title']} — {source['author_full_name']}")
        if source.get("link"):
            typer.echo(f"      {source['link']}")


class ServiceUnreachable(LLMTwinException):
    """No service answers at the URL."""


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()

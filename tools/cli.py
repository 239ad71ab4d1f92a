"""What every CLI entry point shares: errors as one line on stderr and exit 1, never a traceback."""

from __future__ import annotations

import typer

from llm_engineering.domain.exceptions import LLMTwinException


def run_app(app: typer.Typer, *, also: tuple[type[Exception], ...] = ()) -> None:
    try:
        app()
    except (LLMTwinException, *also) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(1) from None

"""What every CLI entry point shares: one logging set-up, and errors as one line on stderr."""

from __future__ import annotations

import sys

import typer
from loguru import logger

from llm_engineering.domain.exceptions import LLMTwinException

LOG_FORMAT = "{time:HH:mm:ss} | {level: <7} | {message}"


def configure_logging(level: str | None = None) -> None:
    """Send loguru to stderr at `level` (default: the LOG_LEVEL setting), replacing any earlier sink."""
    if level is None:
        from llm_engineering.settings import get_settings

        level = get_settings().LOG_LEVEL
    logger.remove()
    logger.add(sys.stderr, level=level.upper(), format=LOG_FORMAT)


def run_app(app: typer.Typer, *, also: tuple[type[Exception], ...] = ()) -> None:
    try:
        app()
    except (LLMTwinException, *also) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(1) from None

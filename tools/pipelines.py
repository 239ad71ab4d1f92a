"""Running a ZenML pipeline from the CLI: validate its YAML first, then report a failed step in one line."""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from llm_engineering.domain.exceptions import LLMTwinException
from tools.configs import load_config, read_config, resolve_config_path


class PipelineFailed(LLMTwinException):
    """A pipeline run ended in a failed step."""


@dataclass(frozen=True)
class PipelineSpec:
    """One CLI command that runs one ZenML pipeline from a YAML config.

    `flags` are boolean options that set a pipeline parameter to True (`{"full": "Rebuild ..."}`
    gives `--full`); `after` prints what the run produced.
    """

    command: str
    pipeline: str  # "module:attribute"
    config_model: type[BaseModel]
    default_config: str
    help: str
    flags: Mapping[str, str] = field(default_factory=dict)
    after: Callable[[Any], None] | None = None

    def load_pipeline(self) -> Any:
        module, _, attribute = self.pipeline.partition(":")
        return getattr(importlib.import_module(module), attribute)


def run_pipeline(spec: PipelineSpec, config: Path, *, cache: bool, overrides: Mapping[str, Any]) -> Any:
    """Validate `config`, run the pipeline with `overrides` applied to its parameters, return the run."""
    load_config(config, spec.config_model)  # a bad config fails here, before ZenML starts
    config = _with_overrides(resolve_config_path(config), overrides)
    pipeline = spec.load_pipeline()
    options: dict[str, Any] = {"config_path": str(config)}
    if not cache:
        options["enable_cache"] = False
    try:
        run = pipeline.with_options(**options)()
    except RuntimeError as exc:  # ZenML reports a failed step as a RuntimeError: name the cause
        raise PipelineFailed(f"{pipeline.name} failed: {_failed_step_reason(pipeline.name) or exc}") from None
    if spec.after is not None:
        spec.after(run)
    return run


def _with_overrides(config: Path, overrides: Mapping[str, Any]) -> Path:
    """ZenML rejects a parameter given both in YAML and in code, so overrides go into a patched copy."""
    if not overrides:
        return config
    raw = read_config(config)
    raw.setdefault("parameters", {}).update(overrides)
    patched = Path(tempfile.mkdtemp(prefix="llm-twin-config-")) / config.name
    patched.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return patched


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

"""Running a ZenML pipeline from the CLI: validate its YAML first, then report a failed step in one line."""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from llm_engineering.domain.exceptions import LLMTwinException
from llm_engineering.settings import Settings, get_settings
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
    #: a lock file this pipeline holds for its whole run (one run at a time), or None
    run_lock: Callable[[Settings], Path] | None = None

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
    lock = spec.run_lock(get_settings()) if spec.run_lock else None
    try:
        with one_run_at_a_time(lock, spec.command) if lock else nullcontext():
            run = pipeline.with_options(**options)()
    except RuntimeError as exc:  # ZenML reports a failed step as a RuntimeError: name the cause
        raise PipelineFailed(f"{pipeline.name} failed: {_failed_step_reason(pipeline.name) or exc}") from None
    if spec.after is not None:
        spec.after(run)
    return run


@contextmanager
def one_run_at_a_time(lock_path: Path, command: str) -> Iterator[None]:
    """Hold `lock_path` for the whole run; a second run is refused at once, naming the holder's pid.

    Taken before the first step, so a refused run has not spent minutes embedding first.
    """
    from filelock import FileLock, Timeout

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(
        lock_path, blocking=False, thread_local=False, preserve_lock_file=True, on_acquired=_write_pid
    )
    try:
        lock.acquire()
    except Timeout:
        holder = lock_path.read_text(encoding="utf-8").strip() or "unknown"
        raise PipelineFailed(
            f"another `{command}` run (pid {holder}) is in progress on this DATA_DIR: wait for it to finish"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)


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

"""Load and validate a run config before ZenML sees it, so mistakes read as one clear line."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.settings import REPO_ROOT

M = TypeVar("M", bound=BaseModel)


def resolve_config_path(path: Path) -> Path:
    if path.exists():
        return path.resolve()
    in_repo = REPO_ROOT / path
    if in_repo.exists():
        return in_repo
    raise ConfigError(f"config {path} does not exist: pass an existing YAML file, e.g. configs/*.yaml")


def load_config(path: Path, schema: type[M]) -> M:
    path = resolve_config_path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config {path} is not valid YAML{where}: fix its syntax") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path} must be a YAML mapping with a `parameters:` section")
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"config {path}: `{field}` {first['msg'].lower()}: fix that entry") from exc

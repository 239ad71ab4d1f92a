"""Load and validate a run config before ZenML sees it, so mistakes read as one clear line.

A config is data, never code or a way to reach the environment: YAML aliases are refused (a few
hundred bytes of nested aliases expand to gigabytes), and so are `${NAME}` placeholders, which
ZenML would otherwise fill from the environment (a link could carry a password to any server).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.settings import REPO_ROOT

M = TypeVar("M", bound=BaseModel)

#: what ZenML substitutes from the environment (zenml.utils.env_utils)
ENV_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
MAX_CONFIG_BYTES = 1024 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors' aliases: a config never needs them, a bomb always does."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not allowed in run configs", event.start_mark
            )
        return super().compose_node(parent, index)


def resolve_config_path(path: Path) -> Path:
    for candidate in (path, REPO_ROOT / path):
        if candidate.is_file():
            return candidate.resolve()
        if candidate.exists():
            raise ConfigError(f"config {path} is not a file: pass a YAML file, e.g. configs/*.yaml")
    raise ConfigError(f"config {path} does not exist: pass an existing YAML file, e.g. configs/*.yaml")


def read_config(path: Path) -> dict[str, Any]:
    """The config's mapping, read safely; raises ConfigError naming the file and the fix."""
    path = resolve_config_path(path)
    data = path.read_bytes()
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config {path} is over {MAX_CONFIG_BYTES // 1024} KiB: is it the right file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config {path} is not UTF-8 text: pass a YAML file") from None
    try:
        raw = yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise ConfigError(f"config {path} is not valid YAML{where} ({problem}): fix it") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path} must be a YAML mapping with a `parameters:` section")
    if found := _placeholder(raw):
        where, name = found
        raise ConfigError(
            f"config {path}: `{where}` contains ${{{name}}}: environment substitution is not allowed "
            "in configs; write the value itself (secrets belong in settings, e.g. .env)"
        )
    return raw


def load_config(path: Path, schema: type[M]) -> M:
    raw = read_config(path)
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"config {resolve_config_path(path)}: `{field}` {first['msg'].lower()}: fix that entry"
        ) from None


def _placeholder(value: Any, where: str = "") -> tuple[str, str] | None:
    """The first `${NAME}` in any key or string value, with its location."""
    if isinstance(value, str):
        match = ENV_PLACEHOLDER.search(value)
        return (where or "<root>", match.group(1)) if match else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if found := _placeholder(str(key), path) or _placeholder(item, path):
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            if found := _placeholder(item, f"{where}[{i}]"):
                return found
    return None

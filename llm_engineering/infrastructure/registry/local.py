"""The model registry: versions on disk under `DATA_DIR/models/twin/`, mirrored in ZenML's Model `twin`.

The disk is what serving reads (fast, no ZenML start-up): `<version>/` holds the merged weights,
the tokenizer, `README.md` (the model card) and `model_card.json`; `stages.json` maps each stage
to its one version. Every change is mirrored to the ZenML Model Control Plane (when a catalog is
given), so the dashboard shows each version with its datasets, weights and metrics.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from filelock import FileLock
from loguru import logger

from llm_engineering.domain.training import (
    PRODUCTION_STAGE,
    TWIN_MODEL_NAME,
    ModelCard,
    ModelVersion,
    ModelVersionNotFound,
    RegistryError,
)
from llm_engineering.infrastructure.registry.card import render_model_card

CARD_FILE = "model_card.json"
STAGES_FILE = "stages.json"
#: stages a version can hold (ZenML's `ModelStages` less "latest" and "none")
STAGES = ("staging", "production", "archived")


class ModelCatalog(Protocol):
    """Where versions are mirrored for lineage (ZenML's Model Control Plane)."""

    def new_version_name(self, taken: set[str]) -> str:
        """The name the next version gets (the current step's model version when there is one)."""
        ...

    def record(self, version: ModelVersion) -> None:
        """Link the version's datasets and weights and log its card as metadata."""
        ...

    def log_metrics(self, version: str, metrics: dict[str, float]) -> None: ...

    def set_stage(self, version: str, stage: str) -> None: ...


class LocalModelRegistry:
    """`ModelRegistry` over a folder, optionally mirrored to a `ModelCatalog`."""

    def __init__(self, root: Path, catalog: ModelCatalog | None = None) -> None:
        self.root = Path(root)
        self.catalog = catalog

    # --- reads (no ZenML) --------------------------------------------------------------------

    def list_versions(self) -> list[ModelVersion]:
        if not self.root.is_dir():
            return []
        stages = self._stages_by_version()
        found = [self._load(path, stages) for path in self.root.iterdir() if (path / CARD_FILE).is_file()]
        return sorted(found, key=lambda v: _sort_key(v.version))

    def get(self, version: str) -> ModelVersion:
        path = self.root / version
        if not _valid_name(version) or not (path / CARD_FILE).is_file():
            known = ", ".join(v.version for v in self.list_versions()) or "none yet"
            raise ModelVersionNotFound(
                f"model version {version!r} is not registered (known: {known}); see `models list`"
            )
        return self._load(path, self._stages_by_version())

    def production(self) -> ModelVersion | None:
        version = self._read_stages().get(PRODUCTION_STAGE)
        if version is None or not (self.root / version / CARD_FILE).is_file():
            return None
        return self.get(version)

    # --- writes -----------------------------------------------------------------------------

    def register(self, weights_dir: Path, card: ModelCard, *, move: bool = False) -> ModelVersion:
        weights_dir = Path(weights_dir)
        if not (weights_dir / "config.json").is_file():
            raise RegistryError(
                f"{weights_dir} is not a transformers model folder (no config.json): "
                "register the merged weights saved with save_pretrained"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock():
            taken = {path.name for path in self.root.iterdir() if path.is_dir()}
            name = self.catalog.new_version_name(taken) if self.catalog else _next_number(taken)
            target = self.root / name
            if not _valid_name(name) or target.exists():
                raise RegistryError(f"model version {name!r} already exists in {self.root}: remove it first")
            staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.root))
            try:
                folder = staging / "weights"
                if move:
                    shutil.move(str(weights_dir), folder)
                else:
                    shutil.copytree(weights_dir, folder, ignore=shutil.ignore_patterns("checkpoint-*"))
                version = ModelVersion(version=name, stage=None, weights_dir=target, card=card)
                _write_card(folder, version)
                os.replace(folder, target)  # the version appears whole or not at all
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        logger.info("Registered {} version {} at {}", TWIN_MODEL_NAME, name, target)
        if self.catalog is not None:
            self.catalog.record(version)
        return version

    def promote(self, version: str, stage: str = PRODUCTION_STAGE) -> ModelVersion:
        if stage not in STAGES:
            raise RegistryError(f"stage {stage!r} is unknown: use one of {', '.join(STAGES)}")
        self.get(version)  # raises when unknown
        with self._lock():
            stages = self._read_stages()
            previous = stages.get(stage)
            stages[stage] = version
            if previous and previous != version and stage == PRODUCTION_STAGE:
                stages["archived"] = previous  # ZenML archives the previous production version too
            stages = {name: held for name, held in stages.items() if name == stage or held != version}
            _write_json_atomic(self.root / STAGES_FILE, stages)
        promoted = self.get(version)
        _write_card(promoted.weights_dir, promoted)
        if previous and previous != version:
            old = self.get(previous)
            _write_card(old.weights_dir, old)
        if self.catalog is not None:
            self.catalog.set_stage(version, stage)
        logger.info("{} version {} is now {} (was: {})", TWIN_MODEL_NAME, version, stage, previous or "none")
        return promoted

    def update_metrics(self, version: str, metrics: dict[str, float]) -> ModelVersion:
        current = self.get(version)
        card = current.card.model_copy(update={"metrics": {**current.card.metrics, **metrics}})
        updated = current.model_copy(update={"card": card})
        with self._lock():
            _write_card(updated.weights_dir, updated)
        if self.catalog is not None:
            self.catalog.log_metrics(version, metrics)
        return updated

    # --- internals --------------------------------------------------------------------------

    def _lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"), timeout=60)

    def _read_stages(self) -> dict[str, str]:
        path = self.root / STAGES_FILE
        if not path.is_file():
            return {}
        return {str(k): str(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}

    def _stages_by_version(self) -> dict[str, str]:
        return {version: stage for stage, version in self._read_stages().items()}

    def _load(self, path: Path, stages: dict[str, str]) -> ModelVersion:
        card = ModelCard.model_validate_json((path / CARD_FILE).read_text(encoding="utf-8"))
        return ModelVersion(version=path.name, stage=stages.get(path.name), weights_dir=path, card=card)


def _write_card(folder: Path, version: ModelVersion) -> None:
    _write_text_atomic(folder / CARD_FILE, version.card.model_dump_json(indent=2))
    _write_text_atomic(folder / "README.md", render_model_card(version))


def _write_json_atomic(path: Path, data: dict) -> None:
    _write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True))


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _valid_name(name: str) -> bool:
    return bool(name) and not name.startswith(".") and "/" not in name and "\\" not in name and name != ".."


def _next_number(taken: set[str]) -> str:
    return str(max((int(name) for name in taken if name.isdigit()), default=0) + 1)


def _sort_key(name: str) -> tuple[int, int, str]:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)

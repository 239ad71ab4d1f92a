"""The `twin` model registry: versions on disk, mirrored in ZenML's Model Control Plane."""

from __future__ import annotations

from llm_engineering.domain.training import TWIN_MODEL_NAME
from llm_engineering.infrastructure.registry.local import LocalModelRegistry
from llm_engineering.infrastructure.registry.zenml_catalog import ZenMLModelCatalog
from llm_engineering.settings import Settings

__all__ = ["LocalModelRegistry", "ZenMLModelCatalog", "build_registry"]


def build_registry(settings: Settings, *, zenml: bool = True) -> LocalModelRegistry:
    """The registry under `DATA_DIR/models/twin`. `zenml=False` reads and writes the disk only,
    which is what a serving process needs (no ZenML start-up); promotions then skip the mirror."""
    root = settings.DATA_DIR.resolve() / "models" / TWIN_MODEL_NAME
    return LocalModelRegistry(root, ZenMLModelCatalog() if zenml else None)

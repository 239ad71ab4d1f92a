"""The test split to evaluate on: the very dataset version the twin was trained from, when known."""

from __future__ import annotations

from uuid import UUID

from loguru import logger

from llm_engineering.application.ports import ModelRegistry
from llm_engineering.domain.datasets import DatasetKind, InstructDatasets
from llm_engineering.domain.training import EvaluationError


def instruct_datasets_for(registry: ModelRegistry, version: str | None) -> InstructDatasets:
    """The `instruct_datasets` artifact version recorded in the twin version's card (so its test
    split is the one training never saw), else the latest one."""
    from zenml import load_artifact

    from llm_engineering.infrastructure.datasets.artifacts import latest_datasets_artifact

    versions = [registry.get(version)] if version else registry.list_versions()[-1:]
    ref = versions[0].card.datasets.get("instruct") if versions else None
    if ref and _is_uuid(ref):
        try:
            datasets = load_artifact(ref)
        except KeyError:
            logger.warning("The twin's instruct dataset {} is gone from ZenML: using the latest one", ref)
        else:
            if not isinstance(datasets, InstructDatasets):
                raise EvaluationError(f"artifact {ref} is a {type(datasets).__name__}, not InstructDatasets")
            return datasets
    datasets, _ = latest_datasets_artifact(DatasetKind.INSTRUCTION)
    return datasets  # type: ignore[return-value]


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True

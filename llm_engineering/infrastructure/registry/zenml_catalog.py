"""Mirror of the registry in ZenML's Model Control Plane: Model `twin`, one model version per twin.

Inside a ZenML step whose pipeline declares `model=Model(name="twin")`, the run's own model
version is used (every artifact of that run is linked to it by ZenML already). Elsewhere a new
model version is created. Either way the datasets named in the card (by artifact version id) and
a `twin_weights` artifact (where the weights are, with a sha256 per file) are linked to it, and the
card's fields become its metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from uuid import UUID

from loguru import logger

from llm_engineering.domain.training import TWIN_MODEL_NAME, ModelVersion, RegistryError

WEIGHTS_ARTIFACT = "twin_weights"


class ZenMLModelCatalog:
    def __init__(self, model_name: str = TWIN_MODEL_NAME) -> None:
        self.model_name = model_name

    def new_version_name(self, taken: set[str]) -> str:
        from zenml.client import Client

        step_version = self._step_model_version()
        if step_version is not None:  # the pipeline declared `model: {name: twin}`: its run's version
            if str(step_version.name) in taken:
                raise RegistryError(
                    f"this run's {self.model_name} version {step_version.name} already has a folder in "
                    "DATA_DIR/models: the ZenML store was reset while the folders were kept; move them away"
                )
            return str(step_version.name)
        client = Client()
        model = self._ensure_model(client)
        # ZenML numbers versions itself (a custom numeric name is refused); the folder takes it
        created = client.create_model_version(
            model.id, description="LLM Twin (merged weights under DATA_DIR/models)"
        )
        name = str(created.name)
        if name in taken:
            client.delete_model_version(created.id)
            raise RegistryError(
                f"ZenML numbers the next {self.model_name} version {name}, but that folder already "
                "exists: the ZenML store was reset while DATA_DIR/models was kept; move the old "
                "folders away or reset both"
            )
        return name

    def record(self, version: ModelVersion) -> None:
        from zenml import log_metadata, save_artifact
        from zenml.client import Client
        from zenml.model.utils import link_artifact_version_to_model_version

        client = Client()
        model_version = client.get_model_version(self.model_name, version.version)
        for name, ref in version.card.datasets.items():
            artifact = _artifact_version(client, ref)
            if artifact is None:
                logger.info("Dataset {} ({}) is no ZenML artifact version: kept in the card only", name, ref)
                continue
            link_artifact_version_to_model_version(artifact, model_version)
        weights = save_artifact(
            data=weights_manifest(version),
            name=WEIGHTS_ARTIFACT,
            tags=[f"{self.model_name}:{version.version}"],
        )
        link_artifact_version_to_model_version(weights, model_version)
        log_metadata(
            metadata=_card_metadata(version),
            model_name=self.model_name,
            model_version=version.version,
        )

    def log_metrics(self, version: str, metrics: dict[str, float]) -> None:
        from zenml import log_metadata

        log_metadata(metadata={"metrics": dict(metrics)}, model_name=self.model_name, model_version=version)

    def set_stage(self, version: str, stage: str) -> None:
        from zenml.client import Client

        try:
            Client().update_model_version(self.model_name, version, stage=stage, force=True)
        except KeyError as exc:
            raise RegistryError(
                f"{self.model_name} version {version} is on disk but not in ZenML's store: "
                "register it again, or promote with the ZenML mirror off"
            ) from exc

    def _ensure_model(self, client: Any) -> Any:
        """The model, by its exact name (`Client.get_model` also matches name prefixes)."""
        found = [
            m for m in client.list_models(name=self.model_name, size=10).items if m.name == self.model_name
        ]
        if found:
            return found[0]
        return client.create_model(
            self.model_name,
            description="The LLM Twin: an LLM fine-tuned (LoRA SFT, then DPO) to write like a person.",
            tags=["llm-twin"],
        )

    def _step_model_version(self) -> Any:
        from zenml import get_step_context
        from zenml.exceptions import StepContextError

        try:
            context = get_step_context()
        except (StepContextError, RuntimeError):
            return None
        model_version = context.model_version
        if model_version is None or model_version.model.name != self.model_name:
            return None
        return model_version


def weights_manifest(version: ModelVersion) -> dict[str, Any]:
    """Where the weights are and what they are (sha256 per file), as a small JSON artifact."""
    files = {}
    for path in sorted(version.weights_dir.rglob("*")):
        if path.is_file() and path.name not in {"README.md", "model_card.json"}:
            files[str(path.relative_to(version.weights_dir))] = {
                "bytes": path.stat().st_size,
                "sha256": _sha256(path),
            }
    path = str(version.weights_dir)
    return {"model": TWIN_MODEL_NAME, "version": version.version, "path": path, "files": files}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _artifact_version(client: Any, ref: str) -> Any:
    try:
        UUID(ref)
    except ValueError:
        return None
    try:
        return client.get_artifact_version(ref)
    except KeyError:
        return None


def _card_metadata(version: ModelVersion) -> dict[str, Any]:
    card = version.card
    return {
        "base_model": card.base_model,
        "stage_of_training": list(card.stage_of_training),
        "datasets": dict(card.datasets),
        "hyperparameters": json.loads(json.dumps(card.hyperparameters, default=str)),
        "metrics": dict(card.metrics),
        "code_version": card.code_version,
        "authors": list(card.authors),
        "weights_dir": str(version.weights_dir),
        "experiment_key": card.experiment_key or "",
    }

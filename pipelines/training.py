from typing import Any

from zenml import pipeline

from steps.training.fine_tune import fine_tune_twin


def _dataset(name: str, version: str | None, *, required: bool) -> Any:
    """The dataset artifact version as a step input, so the dashboard shows the lineage.

    ZenML resolves `get_artifact_version` lazily, when the step runs; whether the artifact exists
    is checked here, at compile time, so a missing one is a clear error (or, when optional, None).
    """
    from zenml.client import Client

    from llm_engineering.domain.exceptions import ConfigError

    client = Client()
    if not client.list_artifact_versions(artifact=name, size=1).items:
        if not required:
            return None
        raise ConfigError(
            f"no `{name}` artifact in ZenML: run run-generate-instruct-datasets "
            "(and run-generate-preference-datasets) first"
        )
    return client.get_artifact_version(name, version=version)


@pipeline(enable_cache=False)
def training(
    training: dict[str, Any] | None = None,
    instruct_datasets_version: str | None = None,
    preference_datasets_version: str | None = None,
) -> None:
    """Datasets -> LoRA SFT -> LoRA DPO -> merged weights -> a new version of the `twin` model."""
    instruct = _dataset("instruct_datasets", instruct_datasets_version, required=True)
    preference = _dataset("preference_datasets", preference_datasets_version, required=False)
    fine_tune_twin(training=training or {}, instruct=instruct, preference=preference)

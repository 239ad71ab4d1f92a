"""The latest `instruct_datasets` / `preference_datasets` ZenML artifacts, for training and evaluation."""

from __future__ import annotations

from llm_engineering.domain.datasets import DatasetError, DatasetKind, InstructDatasets, PreferenceDatasets

_COMMANDS = {
    DatasetKind.INSTRUCTION: "poetry poe run-generate-instruct-datasets",
    DatasetKind.PREFERENCE: "poetry poe run-generate-preference-datasets",
}


def latest_datasets_artifact(kind: DatasetKind | str) -> tuple[InstructDatasets | PreferenceDatasets, str]:
    """(datasets, artifact version id) of the latest version of `kind`'s artifact.

    The id is the dataset's lineage for a model card. Raises `DatasetError` when none was made yet.
    """
    from zenml.client import Client

    kind = DatasetKind(kind)
    try:
        version = Client().get_artifact_version(kind.artifact_name)
    except KeyError:
        raise DatasetError(
            f"no {kind.artifact_name} artifact in the ZenML store: generate them first ({_COMMANDS[kind]})"
        ) from None
    datasets = version.load()
    expected = InstructDatasets if kind == DatasetKind.INSTRUCTION else PreferenceDatasets
    if not isinstance(datasets, expected):
        raise DatasetError(
            f"artifact {kind.artifact_name} version {version.version} is a {type(datasets).__name__}, "
            f"not {expected.__name__}: regenerate it ({_COMMANDS[kind]})"
        )
    return datasets, str(version.id)


def load_latest_datasets(kind: DatasetKind | str) -> InstructDatasets | PreferenceDatasets:
    """The latest datasets of `kind` ("instruction" or "preference")."""
    return latest_datasets_artifact(kind)[0]

"""Save tiny instruction and preference datasets as the ZenML artifacts the training pipeline reads."""

from __future__ import annotations

from llm_engineering.domain.datasets import (
    DatasetKind,
    DatasetMetadata,
    InstructDatasets,
    InstructSample,
    PreferenceDatasets,
    PreferenceSample,
)
from tests.unit.training.conftest import instruct_samples, preference_samples


def main() -> None:
    from zenml import save_artifact

    common = {"source_document_id": "doc-1", "author_full_name": "Ada Sample", "category": "articles"}
    instruct = InstructDatasets(
        train=[
            InstructSample(instruction=s.instruction, answer=s.answer, **common) for s in instruct_samples(16)
        ],
        test=[],
        metadata=DatasetMetadata(kind=DatasetKind.INSTRUCTION),
    )
    preference = PreferenceDatasets(
        train=[
            PreferenceSample(prompt=p.prompt, chosen=p.chosen, rejected=p.rejected, **common)
            for p in preference_samples(4)
        ],
        test=[],
        metadata=DatasetMetadata(kind=DatasetKind.PREFERENCE),
    )
    save_artifact(instruct, name="instruct_datasets")
    save_artifact(preference, name="preference_datasets")


if __name__ == "__main__":
    main()

from typing import Annotated

from zenml import step

from llm_engineering.application.datasets.generate import build_instruct_datasets
from llm_engineering.domain.datasets import DatasetGenerationConfig, InstructDatasets
from llm_engineering.domain.features import CleanedDocument
from llm_engineering.infrastructure.datasets.tokenizer import load_tokenizer
from llm_engineering.settings import get_settings
from steps.datasets._services import build_writer, log_dataset_metadata


def _build(documents: list[CleanedDocument], generation: DatasetGenerationConfig) -> InstructDatasets:
    settings = get_settings()
    tokenizer, tokenizer_name = load_tokenizer(settings)
    writer, llm = build_writer(settings, generation)
    try:
        return build_instruct_datasets(
            documents, tokenizer, writer, generation, tokenizer_name=tokenizer_name
        )
    finally:
        if llm is not None:
            llm.close()


@step
def generate_instruct_datasets(
    documents: list[CleanedDocument], generation: DatasetGenerationConfig
) -> Annotated[InstructDatasets, "instruct_datasets"]:
    """(instruction, answer) samples: the person's passages and the instructions they answer."""
    datasets = _build(documents, generation)
    log_dataset_metadata(datasets.metadata, "instruct_datasets")
    return datasets


@step
def create_preference_prompts(
    documents: list[CleanedDocument], generation: DatasetGenerationConfig
) -> Annotated[InstructDatasets, "preference_prompts"]:
    """The same samples as `generate_instruct_datasets` (same split): the prompts of the pairs."""
    datasets = _build(documents, generation)
    log_dataset_metadata(datasets.metadata, "preference_prompts")
    return datasets

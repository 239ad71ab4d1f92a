from typing import Annotated

from zenml import step

from llm_engineering.application.datasets.generate import build_preference_datasets
from llm_engineering.domain.datasets import DatasetGenerationConfig, InstructDatasets, PreferenceDatasets
from llm_engineering.infrastructure.datasets.tokenizer import load_tokenizer
from llm_engineering.settings import get_settings
from steps.datasets._services import build_llm, log_dataset_metadata


@step
def generate_preference_datasets(
    prompts: InstructDatasets, generation: DatasetGenerationConfig
) -> Annotated[PreferenceDatasets, "preference_datasets"]:
    """(prompt, chosen, rejected): the person's passage against the base model's own answer."""
    settings = get_settings()
    tokenizer, _ = load_tokenizer(settings)
    llm = build_llm(settings)
    try:
        datasets = build_preference_datasets(prompts, llm, tokenizer, generation)
    finally:
        llm.close()
    log_dataset_metadata(datasets.metadata, "preference_datasets")
    return datasets

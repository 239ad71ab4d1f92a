from zenml import pipeline

from llm_engineering.domain.datasets import DatasetGenerationConfig, DatasetKind
from steps.datasets.generate_instruct_datasets import create_preference_prompts, generate_instruct_datasets
from steps.datasets.generate_preference_datasets import generate_preference_datasets
from steps.datasets.query_feature_store import query_feature_store


@pipeline(enable_cache=False)
def generate_datasets(
    dataset_type: DatasetKind = DatasetKind.INSTRUCTION,
    author_full_names: list[str] | None = None,
    generation: DatasetGenerationConfig | None = None,
) -> None:
    """Feature store -> instruction datasets, or preference datasets (the base model's answers rejected)."""
    generation = generation or DatasetGenerationConfig()
    documents = query_feature_store(author_full_names=author_full_names)
    if DatasetKind(dataset_type) == DatasetKind.INSTRUCTION:
        generate_instruct_datasets(documents, generation=generation)
    else:
        prompts = create_preference_prompts(documents, generation=generation)
        generate_preference_datasets(prompts, generation=generation)

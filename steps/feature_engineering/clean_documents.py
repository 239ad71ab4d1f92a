from typing import Annotated

from zenml import log_metadata, step

from llm_engineering.application import features


@step
def clean_documents(plan: features.FeaturePlan) -> Annotated[features.CleanedBatch, "cleaned_documents"]:
    """Keep what carries meaning; documents left empty are skipped with their reason."""
    batch = features.clean_documents(plan.documents())
    log_metadata(
        metadata={"cleaned": len(batch.documents), "skipped": [s.model_dump() for s in batch.skipped]}
    )
    return batch

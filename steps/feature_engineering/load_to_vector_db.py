from typing import Annotated

import numpy as np
from zenml import log_metadata, step

from llm_engineering import bootstrap
from llm_engineering.application import features
from llm_engineering.settings import get_settings


@step
def load_to_vector_db(
    plan: features.FeaturePlan,
    cleaned: features.CleanedBatch,
    chunks: features.ChunkBatch,
    embeddings: np.ndarray,
) -> Annotated[features.LoadReport, "load_report"]:
    """Apply the run to the vector DB and publish it to readers in one switch."""
    settings = get_settings()
    with bootstrap.Services(settings).vector_writer() as index:
        report = features.load_to_vector_db(index, plan, cleaned, chunks, embeddings)
        if report.changed:
            index.publish()
    log_metadata(metadata=report.metadata())
    return report

from typing import Annotated

import numpy as np
from zenml import step

from llm_engineering import bootstrap
from llm_engineering.application import features
from llm_engineering.infrastructure.models.sparse import Bm25SparseEncoder
from llm_engineering.settings import get_settings


@step
def chunk_and_embed(
    cleaned: features.CleanedBatch,
) -> tuple[Annotated[features.ChunkBatch, "chunks"], Annotated[np.ndarray, "embeddings"]]:
    """Token-aware chunks of every cleaned document and their normalised embeddings."""
    settings = get_settings()
    embedder = bootstrap.build_embedder(settings)
    chunks, embeddings = features.chunk_and_embed(
        cleaned, lambda: bootstrap.build_chunkers(settings, embedder), embedder, Bm25SparseEncoder()
    )
    return chunks, embeddings  # ZenML reads the number of outputs from this return statement

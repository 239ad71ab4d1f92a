from zenml import pipeline

from steps.feature_engineering.chunk_and_embed import chunk_and_embed
from steps.feature_engineering.clean_documents import clean_documents
from steps.feature_engineering.load_to_vector_db import load_to_vector_db
from steps.feature_engineering.query_data_warehouse import query_data_warehouse


@pipeline(enable_cache=False)
def feature_engineering(author_full_names: list[str] | None = None, full: bool = False) -> None:
    """Warehouse -> clean -> chunk -> embed -> vector DB, doing only the work that changed."""
    plan = query_data_warehouse(author_full_names=author_full_names, full=full)
    cleaned = clean_documents(plan)
    chunks, embeddings = chunk_and_embed(cleaned)
    load_to_vector_db(plan, cleaned, chunks, embeddings)

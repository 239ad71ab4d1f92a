from typing import Annotated

from zenml import log_metadata, step

from llm_engineering import bootstrap
from llm_engineering.application.datasets.generate import load_cleaned_documents
from llm_engineering.domain.features import CleanedDocument
from llm_engineering.settings import get_settings


@step
def query_feature_store(
    author_full_names: list[str] | None = None,
) -> Annotated[list[CleanedDocument], "feature_store_documents"]:
    """The cleaned documents of the feature store (of the given authors, or everyone's)."""
    with bootstrap.Services(get_settings()).vector_reader() as index:
        documents = load_cleaned_documents(index, author_full_names or [])
    per_author: dict[str, int] = {}
    for doc in documents:
        per_author[doc.author_full_name] = per_author.get(doc.author_full_name, 0) + 1
    log_metadata(metadata={"documents": len(documents), "documents_per_author": per_author})
    return documents

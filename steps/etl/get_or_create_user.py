from typing import Annotated

from zenml import log_metadata, step

from llm_engineering import bootstrap
from llm_engineering.domain.documents import UserDocument
from llm_engineering.settings import get_settings


@step
def get_or_create_user(user_full_name: str) -> Annotated[UserDocument, "user"]:
    """The person whose footprint is crawled; created in the warehouse on first use."""
    repository = bootstrap.connect_warehouse(get_settings())
    try:
        user = repository.get_or_create_user(user_full_name)
    finally:
        repository.close()
    log_metadata(metadata={"user": {"id": str(user.id), "full_name": user.full_name}})
    return user

from typing import Annotated

from zenml import log_metadata, step

from llm_engineering import bootstrap
from llm_engineering.application import features
from llm_engineering.settings import get_settings


@step
def query_data_warehouse(
    author_full_names: list[str] | None = None, full: bool = False
) -> Annotated[features.FeaturePlan, "feature_plan"]:
    """Which warehouse documents are new or changed since the last run, and which are gone."""
    settings = get_settings()
    repository = bootstrap.connect_warehouse(settings)
    try:
        with bootstrap.Services(settings).vector_writer() as index:
            plan = features.plan_feature_run(repository, index, author_full_names or [], full=full)
    finally:
        repository.close()
    log_metadata(
        metadata={
            "to_process": {c.value: len(getattr(plan, c.value)) for c in plan.unchanged},
            "unchanged_skipped": {c.value: n for c, n in plan.unchanged.items()},
            "deleted": {c.value: len(ids) for c, ids in plan.deleted.items()},
        }
    )
    return plan

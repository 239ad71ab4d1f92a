from zenml import pipeline

from steps.etl.crawl_links import crawl_links
from steps.etl.get_or_create_user import get_or_create_user


@pipeline
def digital_data_etl(
    user_full_name: str,
    links: list[str] | None = None,
    exports: list[str] | None = None,
    crawler_options: dict[str, dict] | None = None,
    domain_map: dict[str, str] | None = None,
) -> None:
    """A person's links and data exports -> the data warehouse."""
    user = get_or_create_user(user_full_name)
    crawl_links(
        user=user, links=links, exports=exports, crawler_options=crawler_options, domain_map=domain_map
    )

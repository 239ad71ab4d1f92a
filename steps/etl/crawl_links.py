from typing import Annotated

from zenml import log_metadata, step

from llm_engineering import bootstrap
from llm_engineering.application import crawling, etl
from llm_engineering.domain.crawl import CrawlReport
from llm_engineering.domain.documents import UserDocument
from llm_engineering.settings import REPO_ROOT, get_settings


@step
def crawl_links(
    user: UserDocument,
    links: list[str] | None = None,
    exports: list[str] | None = None,
    crawler_options: dict[str, dict] | None = None,
    domain_map: dict[str, str] | None = None,
) -> Annotated[CrawlReport, "crawl_report"]:
    """Crawl the links and exports into the warehouse; fail only when every one failed."""
    settings = get_settings()
    targets = etl.build_targets(links or [], exports or [], base=REPO_ROOT)
    with bootstrap.crawl_services(settings, domain_map=domain_map, options=crawler_options) as services:
        report = crawling.crawl(targets, user, services.dispatcher, services.repository, services.pools)
    log_metadata(metadata={"summary": report.summary(), "domains": report.per_domain()})
    return etl.check_report(report)

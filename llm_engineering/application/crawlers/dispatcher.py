"""Picks the crawler for a link from a configurable domain map (Scrapy-style dotted paths)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from fnmatch import fnmatchcase
from threading import Lock

from llm_engineering.application.crawlers.base import BaseCrawler, CrawlContext
from llm_engineering.application.crawlers.urls import domain_of, is_git_location, validate_link
from llm_engineering.domain.exceptions import ConfigError, UnsupportedURL

_CRAWLERS = "llm_engineering.application.crawlers"
GIT_CRAWLER = f"{_CRAWLERS}.github.GitCrawler"
DEFAULT_CRAWLER = f"{_CRAWLERS}.custom_article.CustomArticleCrawler"

#: domain pattern -> crawler class. `*.x.com` matches subdomains; `x.com` matches x.com and www.x.com.
DEFAULT_DOMAIN_MAP: dict[str, str] = {
    "github.com": GIT_CRAWLER,
    "gitlab.com": GIT_CRAWLER,
    "bitbucket.org": GIT_CRAWLER,
    "codeberg.org": GIT_CRAWLER,
    "medium.com": f"{_CRAWLERS}.medium.MediumCrawler",
    "*.medium.com": f"{_CRAWLERS}.medium.MediumCrawler",
    "linkedin.com": f"{_CRAWLERS}.linkedin.LinkedInCrawler",
    "substack.com": f"{_CRAWLERS}.substack.SubstackCrawler",
    "*.substack.com": f"{_CRAWLERS}.substack.SubstackCrawler",
}

EXPORT_IMPORTERS: dict[str, str] = {
    "medium_export": f"{_CRAWLERS}.exports.MediumExportImporter",
    "linkedin_export": f"{_CRAWLERS}.exports.LinkedInExportImporter",
}


def load_class(dotted_path: str) -> type[BaseCrawler]:
    module_name, _, class_name = dotted_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"crawler {dotted_path!r} cannot be imported: fix the domain map ({exc})") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseCrawler)):
        raise ConfigError(f"{dotted_path!r} is not a BaseCrawler subclass: fix the domain map")
    return cls


class CrawlerDispatcher:
    """Maps links to crawler instances; one instance per crawler class, created on first use."""

    def __init__(
        self,
        context: CrawlContext,
        domain_map: Mapping[str, str] | None = None,
        default: str = DEFAULT_CRAWLER,
    ) -> None:
        merged = {**DEFAULT_DOMAIN_MAP, **(domain_map or {})}
        self._domain_map = {pattern.lower().removeprefix("www."): path for pattern, path in merged.items()}
        self._default = default
        self._context = context
        self._instances: dict[str, BaseCrawler] = {}
        self._lock = Lock()

    def crawler_path_for(self, link: str) -> str:
        """The dotted path of the crawler for `link`; raises InvalidURL/UnsupportedURL."""
        link = validate_link(link)
        if is_git_location(link):
            return GIT_CRAWLER
        domain = domain_of(link)
        if domain in self._domain_map:
            return self._domain_map[domain]
        for pattern, path in self._domain_map.items():
            if "*" in pattern and fnmatchcase(domain, pattern):
                return path
        return self._default

    def crawler_class_for(self, link: str) -> type[BaseCrawler]:
        return load_class(self.crawler_path_for(link))

    def crawler_for(self, link: str) -> BaseCrawler:
        return self._instance(self.crawler_path_for(link))

    def importer_for(self, kind: str) -> BaseCrawler:
        if kind not in EXPORT_IMPORTERS:
            raise UnsupportedURL(f"unknown export kind {kind!r}: use one of {sorted(EXPORT_IMPORTERS)}")
        return self._instance(EXPORT_IMPORTERS[kind])

    def _instance(self, path: str) -> BaseCrawler:
        with self._lock:
            if path not in self._instances:
                self._instances[path] = load_class(path)(self._context)
            return self._instances[path]

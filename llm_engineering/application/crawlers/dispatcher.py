"""Picks the crawler for a link from a configurable domain map (Scrapy-style dotted paths)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from threading import Lock
from typing import Any

from llm_engineering.application.crawlers.base import BaseCrawler, CrawlContext, CrawlerOptions
from llm_engineering.application.crawlers.exports import EXPORT_IMPORTERS
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


_DOTTED_PATH = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")


def load_class(dotted_path: str, allowed_packages: Iterable[str] = ()) -> type[BaseCrawler]:
    """The crawler class a domain map names. Only this project's crawlers and those of
    `allowed_packages` (CRAWL_ALLOWED_CRAWLER_PACKAGES) may be named, and that is checked on the
    module path BEFORE anything is imported: a config must not run any installed module's code."""
    if not isinstance(dotted_path, str) or not _DOTTED_PATH.match(dotted_path):
        raise ConfigError(
            f"crawler {dotted_path!r} is not a dotted path (package.module.Class): fix the domain map"
        )
    module_name, _, class_name = dotted_path.rpartition(".")
    packages = (_CRAWLERS, *allowed_packages)
    if not any(module_name == p or module_name.startswith(f"{p}.") for p in packages):
        raise ConfigError(
            f"crawler {dotted_path!r} is outside the allowed packages ({', '.join(packages)}): "
            "name a crawler of this project, or add its package to CRAWL_ALLOWED_CRAWLER_PACKAGES"
        )
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"crawler {dotted_path!r} cannot be imported: fix the domain map ({exc})") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseCrawler)):
        raise ConfigError(f"{dotted_path!r} is not a BaseCrawler subclass: fix the domain map")
    return cls


def validate_options(
    options: Mapping[str, Any], crawlers: Iterable[type[BaseCrawler]]
) -> dict[type[BaseCrawler], CrawlerOptions]:
    """Each crawler's validated options; an unknown crawler name, an unknown option or a value of
    the wrong type is a one-line ConfigError naming it."""
    crawlers = list(dict.fromkeys(crawlers))
    sections = {section for crawler in crawlers for section in crawler.option_sections()}
    unknown = sorted(str(name) for name in options if name not in sections)
    if unknown:
        raise ConfigError(
            f"crawler_options.{unknown[0]}: there is no crawler named {unknown[0]!r}: "
            f"use one of {', '.join(sorted(sections))}"
        )
    return {crawler: crawler.options_from(options) for crawler in crawlers}


class CrawlerDispatcher:
    """Maps links to crawler instances; one instance per crawler class, created on first use.

    Every crawler class of the map is imported, and every crawler's options validated, when the
    dispatcher is built: a bad map entry or option fails the run before anything is crawled.
    """

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
        paths = {*self._domain_map.values(), default, GIT_CRAWLER}
        allowed = context.settings.CRAWL_ALLOWED_CRAWLER_PACKAGES
        self._classes = {path: load_class(path, allowed) for path in sorted(paths)}
        self._options = validate_options(
            context.options, [*self._classes.values(), *EXPORT_IMPORTERS.values()]
        )
        self._instances: dict[type[BaseCrawler], BaseCrawler] = {}
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

    def crawler_for(self, link: str) -> BaseCrawler:
        return self._instance(self._classes[self.crawler_path_for(link)])

    def importer_for(self, kind: str) -> BaseCrawler:
        if kind not in EXPORT_IMPORTERS:
            raise UnsupportedURL(f"unknown export kind {kind!r}: use one of {sorted(EXPORT_IMPORTERS)}")
        return self._instance(EXPORT_IMPORTERS[kind])

    def _instance(self, cls: type[BaseCrawler]) -> BaseCrawler:
        with self._lock:
            if cls not in self._instances:
                self._instances[cls] = cls(self._context, self._options[cls])
            return self._instances[cls]

"""Crawler options are validated once, by the dispatcher, before any link is crawled."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.application.crawlers.custom_article import CustomArticleCrawler
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.medium import MediumCrawler
from llm_engineering.application.crawlers.substack import SubstackCrawler
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.settings import Settings


def _dispatcher(tmp_path: Path, options: dict, domain_map: dict[str, str] | None = None) -> CrawlerDispatcher:
    context = CrawlContext(
        settings=Settings(_env_file=None, DATA_DIR=tmp_path, CRAWL_ALLOWED_CRAWLER_PACKAGES=["tests"]),
        http=None,  # type: ignore[arg-type]  # nothing is fetched: only options are checked
        limiter=None,  # type: ignore[arg-type]
        options=options,
    )
    return CrawlerDispatcher(context, domain_map)


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"medum": {"max_articles": 3}}, ["crawler_options.medum", "no crawler named 'medum'", "medium"]),
        (
            {"medium": {"max_article": 3}},
            ["crawler_options.medium.max_article", "not an option", "max_articles"],
        ),
        ({"medium": {"max_articles": "lots"}}, ["crawler_options.medium.max_articles", "'lots'"]),
        ({"article": {"max_articles": 0}}, ["crawler_options.article.max_articles", "greater than 0"]),
        ({"linkedin": {"scroll_wait": -1}}, ["crawler_options.linkedin.scroll_wait", "greater than 0"]),
        ({"github": {"depth": 1}}, ["crawler_options.github.depth", "not an option", "accepts: none"]),
        ({"medium": [1, 2]}, ["crawler_options.medium must be a mapping"]),
    ],
)
def test_bad_options_are_one_line_naming_the_option(tmp_path: Path, options: dict, names: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        _dispatcher(tmp_path, options)
    message = str(caught.value)
    assert "\n" not in message
    for name in names:
        assert name in message, message
    assert "ETL config" in message or "use one of" in message


def test_good_options_reach_each_crawler_once_validated(tmp_path: Path) -> None:
    dispatcher = _dispatcher(
        tmp_path, {"article": {"max_articles": 2}, "medium": {"max_articles": 5, "scroll_settle": 0}}
    )

    medium = dispatcher.crawler_for("https://medium.com/@jane/a-story-1")
    blog = dispatcher.crawler_for("https://blog.example.org/post")
    substack = dispatcher.crawler_for("https://jane.substack.com/p/a-post")

    assert isinstance(medium, MediumCrawler) and medium.options.max_articles == 5
    assert medium.options.scroll_settle == 0 and medium.options.scroll_wait == 10.0  # the default
    assert isinstance(blog, CustomArticleCrawler) and blog.options.max_articles == 2
    # `article` options apply to every blog crawler, unless its own section overrides them.
    assert isinstance(substack, SubstackCrawler) and substack.options.max_articles == 2
    overridden = _dispatcher(tmp_path, {"article": {"max_articles": 2}, "substack": {"max_articles": 9}})
    own = overridden.crawler_for("https://jane.substack.com/")
    assert isinstance(own, SubstackCrawler) and own.options.max_articles == 9


def test_a_crawler_of_a_custom_domain_map_is_known_by_name(tmp_path: Path) -> None:
    from tests.unit.test_crawl_engine import ECHO

    with pytest.raises(ConfigError, match=r"crawler_options\.echo\.volume: is not an option"):
        _dispatcher(tmp_path, {"echo": {"volume": 11}}, {"echo.test": ECHO})
    assert _dispatcher(tmp_path, {"echo": {"prefix": "x-"}}, {"echo.test": ECHO})


def test_a_bad_domain_map_entry_fails_before_any_crawling(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be imported: fix the domain map"):
        _dispatcher(tmp_path, {}, {"blog.test": "llm_engineering.application.crawlers.nowhere.Crawler"})


def test_a_domain_map_outside_the_allowed_packages_is_refused_before_import(
    tmp_path: Path, monkeypatch
) -> None:
    """Naming a module must not run its import-time code: the package is checked first."""
    marker = tmp_path / "imported"
    (tmp_path / "evil_module.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for path in ("evil_module.Crawler", "os.system", "subprocess.Popen", "tests"):
        with pytest.raises(ConfigError, match=r"allowed packages|not a dotted path"):
            _dispatcher(tmp_path, {}, {"blog.test": path})
    assert not marker.exists()
    assert "evil_module" not in __import__("sys").modules


def test_an_allowed_package_may_only_name_crawler_classes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a BaseCrawler subclass"):
        _dispatcher(tmp_path, {}, {"blog.test": "tests.unit.crawlers.test_options.Path"})
    lookalike = "llm_engineering.application.crawlers_evil.X"
    with pytest.raises(ConfigError, match="allowed packages"):
        _dispatcher(tmp_path, {}, {"blog.test": lookalike})

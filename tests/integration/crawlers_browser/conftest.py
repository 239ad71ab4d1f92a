"""Real Chromium against local medium.com / www.linkedin.com stand-ins (see sites.py).

Servers live for the session; each test module gets one browser provider, so Chrome starts about
once per module rather than once per test.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme

from llm_engineering.application.crawlers.base import CrawlContext
from llm_engineering.domain.documents import UserDocument
from llm_engineering.infrastructure.browser.chrome import ChromeBrowserProvider
from llm_engineering.infrastructure.http.fetcher import HttpFetcher
from llm_engineering.infrastructure.http.politeness import DomainLimiter
from llm_engineering.settings import Settings
from tests.integration.crawlers_browser import sites

_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(scope="session", autouse=True)
def _no_proxy_environment() -> Iterator[None]:
    """The fixture sites are local: a proxy from the environment would send Chrome elsewhere."""
    with pytest.MonkeyPatch.context() as patch:
        for name in _PROXY_VARIABLES:
            patch.delenv(name, raising=False)
            patch.delenv(name.lower(), raising=False)
        yield


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(tls_ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ca.issue_cert("medium.com", "*.medium.com", "www.linkedin.com", "linkedin.com").configure_cert(
        context
    )
    return context


@pytest.fixture(scope="session")
def medium_server(server_tls: ssl.SSLContext) -> Iterator[sites.TLSServer]:
    server = sites.start(sites.MediumSite(), server_tls)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def linkedin_server(server_tls: ssl.SSLContext) -> Iterator[sites.TLSServer]:
    server = sites.start(sites.LinkedInSite(), server_tls)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def medium_site(medium_server: sites.TLSServer) -> sites.MediumSite:
    assert isinstance(medium_server.site, sites.MediumSite)
    return medium_server.site


@pytest.fixture(scope="session")
def linkedin_site(linkedin_server: sites.TLSServer) -> sites.LinkedInSite:
    assert isinstance(linkedin_server.site, sites.LinkedInSite)
    return linkedin_server.site


@pytest.fixture(scope="session")
def browser_settings(
    medium_server: sites.TLSServer, linkedin_server: sites.TLSServer, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        _env_file=None,
        DATA_DIR=tmp_path_factory.mktemp("data"),
        CHROMIUM_BINARY=str(sites.CHROMIUM),
        CHROMEDRIVER_PATH=str(sites.CHROMEDRIVER),
        CHROME_EXTRA_ARGS=sites.host_rules(medium_server.port, linkedin_server.port),
        BROWSER_PAGE_TIMEOUT=15,
        BROWSER_SCROLL_LIMIT=10,
        CRAWL_DOMAIN_DELAY=0,
        CRAWL_MAX_RETRIES=0,
        CRAWL_ALLOW_PRIVATE_NETWORKS=True,  # the fixture sites serve on 127.0.0.1
        LINKEDIN_USERNAME=sites.LinkedInSite.USERNAME,
        LINKEDIN_PASSWORD=sites.LinkedInSite.PASSWORD,
    )


@pytest.fixture(scope="module")
def browsers(browser_settings: Settings) -> Iterator[ChromeBrowserProvider]:
    provider = ChromeBrowserProvider(browser_settings)
    yield provider
    provider.close_all()


@pytest.fixture(scope="session")
def http(
    browser_settings: Settings,
    tls_ca: trustme.CA,
    medium_server: sites.TLSServer,
    linkedin_server: sites.TLSServer,
) -> Iterator[HttpFetcher]:
    verify = ssl.create_default_context()
    tls_ca.configure_trust(verify)
    transport = sites.LoopbackTransport(
        {"medium.com": medium_server.port, "www.linkedin.com": linkedin_server.port}, verify
    )
    fetcher = HttpFetcher(browser_settings, DomainLimiter(2, 0), transport=transport)
    yield fetcher
    fetcher.close()


@pytest.fixture
def user() -> UserDocument:
    return UserDocument.from_full_name("Jane Doe")


@pytest.fixture
def make_context(
    browser_settings: Settings, http: HttpFetcher, browsers: ChromeBrowserProvider
) -> Callable[..., CrawlContext]:
    """A crawl context over the shared browser; settings fields and options may be overridden."""

    def make(
        *, options: dict[str, dict[str, Any]] | None = None, browsers_: Any = browsers, **settings: Any
    ) -> CrawlContext:
        return CrawlContext(
            settings=browser_settings.model_copy(update=settings),
            http=http,
            limiter=DomainLimiter(2, 0),
            browsers=browsers_,
            options=options or {},
        )

    return make

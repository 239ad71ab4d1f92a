"""SSRF: links, redirect hops and feed items that reach private or metadata addresses are refused.

The fixture server listens on 127.0.0.1; a test resolver says which names are "public", and the
transport routes every named host to the fixture server, so that without the policy each refused
request WOULD succeed (and the server would see it).
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import pytest

from llm_engineering.application.crawlers.custom_article import CustomArticleCrawler
from llm_engineering.application.crawlers.network import NetworkPolicy, blocked_reason
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from llm_engineering.infrastructure.http.fetcher import HttpFetcher
from llm_engineering.infrastructure.http.politeness import DomainLimiter
from tests.integration.crawlers_http.conftest import HTML_OK, make_settings
from tests.integration.crawlers_http.servers import FixtureServer, HostRewriteTransport

PUBLIC = "public.example.test"
METADATA = "169.254.169.254"
INTERNAL_NAMES = {"metadata.internal.test": METADATA, "intranet.test": "10.1.2.3"}
ARTICLE = (
    b"<html><body><article><h1>Secret</h1><p>" + b"internal words " * 80 + b"</p></article></body></html>"
)
FEED = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Inside</title><link>http://{METADATA}/latest/meta-data/iam</link></item>
</channel></rss>""".encode()


def _redirect(location: str):
    def route(handler: Any) -> None:
        handler.send_body(302, b"", "text/html", {"Location": location})

    return route


@pytest.fixture
def server() -> Any:
    routes = {
        "/ok": lambda h: h.send_body(200, HTML_OK, "text/html"),
        "/latest/meta-data/iam": lambda h: h.send_body(200, ARTICLE, "text/html"),
        "/secret": lambda h: h.send_body(200, ARTICLE, "text/html"),
        "/feed.xml": lambda h: h.send_body(200, FEED, "application/rss+xml"),
        "/robots.txt": lambda h: h.send_body(404, b"", "text/plain"),
    }
    fixture = FixtureServer(routes=routes).start()
    fixture.routes["/to-metadata"] = _redirect(f"http://{METADATA}/latest/meta-data/iam")
    fixture.routes["/to-name"] = _redirect("http://metadata.internal.test/secret")
    fixture.routes["/to-mapped"] = _redirect("http://[::ffff:10.0.0.1]/secret")
    fixture.routes["/to-loopback"] = _redirect(f"http://127.0.0.2:{fixture.port}/secret")
    yield fixture
    fixture.stop()


def _resolver(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
    address = {PUBLIC: "93.184.216.34", **INTERNAL_NAMES}.get(host)
    if address is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


def _fetcher(tmp_path: Path, server: FixtureServer, *, allowed: list[str]) -> HttpFetcher:
    settings = make_settings(tmp_path, CRAWL_ALLOW_PRIVATE_NETWORKS=False, CRAWL_MAX_RETRIES=0)
    hosts = dict.fromkeys([PUBLIC, METADATA, *INTERNAL_NAMES, "::ffff:10.0.0.1", "127.0.0.2"], server.port)
    return HttpFetcher(
        settings,
        DomainLimiter(2, 0.0),
        transport=HostRewriteTransport(hosts),
        network=NetworkPolicy.build(False, allowed, resolve=_resolver),
    )


@pytest.mark.parametrize("path", ["/to-metadata", "/to-name", "/to-mapped", "/to-loopback"])
def test_a_redirect_into_the_private_network_is_refused(tmp_path: Path, server, path: str) -> None:
    # 127.0.0.1/32 is allowed so that the first hop's peer (the fixture server) passes.
    with _fetcher(tmp_path, server, allowed=["127.0.0.1/32"]) as fetcher:
        assert fetcher.get(f"http://{PUBLIC}/ok").status == 200
        with pytest.raises(CrawlError) as caught:
            fetcher.get(f"http://{PUBLIC}{path}")
    assert caught.value.kind is ErrorKind.BLOCKED_ADDRESS
    assert "CRAWL_ALLOW_PRIVATE_NETWORKS" in str(caught.value)
    assert server.count("/secret") == 0 and server.count("/latest/meta-data/iam") == 0


def test_a_feed_item_linking_to_an_internal_host_is_not_fetched(tmp_path: Path, server, user) -> None:
    from llm_engineering.application.crawlers.base import CrawlContext

    with _fetcher(tmp_path, server, allowed=["127.0.0.1/32"]) as fetcher:
        context = CrawlContext(settings=fetcher.settings, http=fetcher, limiter=fetcher.limiter)
        with pytest.raises(CrawlError) as caught:
            CustomArticleCrawler(context).extract(f"http://{PUBLIC}/feed.xml", user)
    assert caught.value.kind is ErrorKind.BLOCKED_ADDRESS
    assert server.count("/feed.xml") == 1 and server.count("/latest/meta-data/iam") == 0


def test_the_connected_peer_is_checked_too(tmp_path: Path, server) -> None:
    """The name resolves to a public address, but the connection lands on 127.0.0.1 (DNS rebinding)."""
    with _fetcher(tmp_path, server, allowed=[]) as fetcher, pytest.raises(CrawlError) as caught:
        fetcher.get(f"http://{PUBLIC}/ok")
    assert caught.value.kind is ErrorKind.BLOCKED_ADDRESS
    assert "127.0.0.1" in str(caught.value)


def test_a_loopback_link_is_refused_by_default_and_allowed_on_request(tmp_path: Path, server) -> None:
    link = f"{server.base_url}/ok"
    settings = make_settings(tmp_path, CRAWL_ALLOW_PRIVATE_NETWORKS=False)
    with HttpFetcher(settings, DomainLimiter(2, 0.0)) as fetcher, pytest.raises(CrawlError) as caught:
        fetcher.get(link)
    assert caught.value.kind is ErrorKind.BLOCKED_ADDRESS
    assert server.count("/ok") == 0 and server.count("/robots.txt") == 0
    for opt_in in ({"CRAWL_ALLOW_PRIVATE_NETWORKS": True}, {"CRAWL_ALLOWED_NETWORKS": ["127.0.0.0/8"]}):
        with HttpFetcher(make_settings(tmp_path, **opt_in), DomainLimiter(2, 0.0)) as fetcher:
            assert fetcher.get(link).status == 200


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "100.100.100.200", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1",
        "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
    ],
)  # fmt: skip
def test_blocked_addresses(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None

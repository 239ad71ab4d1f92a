"""Chromium and certificates: a rejected certificate is a TLS error with a hint (not a bot check),
and BROWSER_CA_CERT_FILE makes the browser accept a site whose chain holds that certificate.

No --ignore-certificate-errors here: the page is served with a certificate from a throwaway
trustme CA, reached as https://tls.test through Chrome's host mapping.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from llm_engineering.infrastructure.browser.chrome import ChromeBrowserProvider
from llm_engineering.settings import Settings
from tests.integration.crawlers_browser import sites

pytestmark = sites.needs_chromium

HOST = "tls.test"
PAGE = b"<html><head><title>Signed page</title></head><body><p>Served over TLS.</p></body></html>"


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Page)
        self.tls = context

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        try:
            request = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # Chrome rejected the certificate
        super().finish_request(request, client_address)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _serve(context: ssl.SSLContext) -> _TLSServer:
    server = _TLSServer(context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def site(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_TLSServer]:
    """Presents its certificate and the CA's, as TLS-inspecting proxies do."""
    leaf = ca.issue_cert(HOST)
    folder = tmp_path_factory.mktemp("tls")
    (folder / "chain.pem").write_bytes(leaf.cert_chain_pems[0].bytes() + ca.cert_pem.bytes())
    (folder / "key.pem").write_bytes(leaf.private_key_pem.bytes())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "chain.pem", folder / "key.pem")
    server = _serve(context)
    yield server
    server.shutdown()
    server.server_close()


def _open(server: _TLSServer, tmp_path: Path, **settings: object) -> str:
    """Open https://tls.test/ in a fresh Chrome; the page title."""
    provider = ChromeBrowserProvider(
        Settings(
            _env_file=None,
            DATA_DIR=tmp_path / "data",
            CHROMIUM_BINARY=str(sites.CHROMIUM),
            CHROMEDRIVER_PATH=str(sites.CHROMEDRIVER),
            CHROME_EXTRA_ARGS=f'--host-resolver-rules="MAP {HOST} 127.0.0.1:{server.server_address[1]}"',
            BROWSER_PAGE_TIMEOUT=15,
            **settings,
        )
    )
    try:
        with provider.page(f"https://{HOST}/") as page:
            page.open(f"https://{HOST}/")
            return page.driver.title
    finally:
        provider.close_all()


def test_untrusted_certificate_is_a_tls_error_with_a_hint(site, tmp_path) -> None:
    with pytest.raises(CrawlError) as caught:
        _open(site, tmp_path)
    assert caught.value.kind is ErrorKind.TLS
    message = str(caught.value)
    assert f"https://{HOST}/" in message
    assert "BROWSER_CA_CERT_FILE" in message
    assert "ERR_CERT_AUTHORITY_INVALID" in message
    assert "bot" not in message.lower()


def test_the_ca_file_makes_the_site_trusted(site, ca, tmp_path) -> None:
    ca_file = tmp_path / "corporate-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    assert _open(site, tmp_path, BROWSER_CA_CERT_FILE=ca_file) == "Signed page"


def test_another_ca_is_not_trusted(site, tmp_path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(CrawlError) as caught:
        _open(site, tmp_path, BROWSER_CA_CERT_FILE=other)
    assert caught.value.kind is ErrorKind.TLS


def test_a_file_without_certificates_is_one_clear_error(site, tmp_path) -> None:
    bad = tmp_path / "not-a-cert.pem"
    bad.write_text("hello\n")
    with pytest.raises(CrawlError) as caught:
        _open(site, tmp_path, BROWSER_CA_CERT_FILE=bad)
    assert caught.value.kind is ErrorKind.BROWSER
    assert "BROWSER_CA_CERT_FILE" in str(caught.value) and "no PEM certificate" in str(caught.value)


def test_cert_net_errors_from_webdriver_are_tls() -> None:
    from selenium.common.exceptions import WebDriverException

    from llm_engineering.infrastructure.browser.errors import browser_errors

    discarded: list[bool] = []
    with (
        pytest.raises(CrawlError) as caught,
        browser_errors("https://x.test/", lambda: discarded.append(True)),
    ):
        raise WebDriverException("unknown error: net::ERR_CERT_DATE_INVALID\n  (Session info: chrome=150)")
    assert caught.value.kind is ErrorKind.TLS
    assert "BROWSER_CA_CERT_FILE" in str(caught.value)
    assert not discarded, "a certificate error is not a broken browser"

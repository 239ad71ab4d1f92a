"""Local HTTPS stand-ins for medium.com and www.linkedin.com, served from tests/fixtures/browser_sites.

Chrome reaches them under their real names through `--host-resolver-rules`, so the crawlers run
unchanged; both names are HSTS-preloaded, hence TLS with a certificate from a throwaway CA.
"""

from __future__ import annotations

import html
import json
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "browser_sites"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
    reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)",
)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


class Site:
    """One fixture site: answers requests and remembers them (path, method) for assertions."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    def paths(self) -> list[str]:
        with self._lock:
            return [path for _, path in self.requests]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Response:
        raise NotImplementedError


class MediumSite(Site):
    ROUTES: ClassVar[dict[str, str]] = {
        "/@jane/lazy-article-1a2b3c": "lazy-article.html",
        "/@jane/member-notes-on-caching-4d5e6f": "second-article.html",
        "/@jane/bot-check-7a8b9c": "bot-check.html",
        "/@jane/captcha-a-short-history-0c0c0c": "captcha-article.html",
        "/_/story/lazy-article-1a2b3c/part-1": "lazy-article.part-1.html",
        "/_/story/lazy-article-1a2b3c/part-2": "lazy-article.part-2.html",
    }

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Response:
        route = urlsplit(path).path
        if route == "/robots.txt":
            return Response(body=b"User-agent: *\nAllow: /\n", content_type="text/plain")
        if route == "/feed/@jane":
            return Response(
                body=(FIXTURES / "medium" / "feed-jane.xml").read_bytes(),
                content_type="application/rss+xml; charset=UTF-8",
            )
        if route.startswith("/_/story/"):
            time.sleep(0.1)  # the story parts come over "the network", a little later
        name = self.ROUTES.get(route)
        if name is None:
            return Response(404, b"<html><head><title>Not found</title></head><body>404</body></html>")
        return Response(body=(FIXTURES / "medium" / name).read_bytes())


class LinkedInSite(Site):
    """Login with a session cookie, a checkpoint for one user, and an infinite activity feed."""

    USERNAME = "jane@example.com"
    PASSWORD = "correct horse battery staple"
    CHECKPOINT_USER = "checkpoint@example.com"
    BATCH = 5

    def __init__(self) -> None:
        super().__init__()
        self.sessions: set[str] = set()
        self.logins = 0
        self.posts: list[dict[str, Any]] = json.loads((FIXTURES / "linkedin" / "posts.json").read_text())
        self._post_template = (FIXTURES / "linkedin" / "post.html").read_text()

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Response:
        parts = urlsplit(path)
        route, query = parts.path, parse_qs(parts.query)
        logged_in = self._session(headers) in self.sessions
        if route == "/login" and method == "GET":
            if logged_in:
                return _redirect("/feed/")
            return Response(body=self._login_page().encode())
        if route == "/checkpoint/lg/login-submit" and method == "POST":
            return self._login(parse_qs(body.decode()))
        if route.startswith("/checkpoint/challenge/"):
            return Response(body=self._file("challenge.html"))
        if route == "/feed/":
            return Response(body=self._file("feed.html")) if logged_in else _redirect("/login")
        if route == "/in/jane/recent-activity/all/":
            if not logged_in:
                return _redirect("/login?session_redirect=%2Fin%2Fjane%2Frecent-activity%2Fall%2F")
            page = self._file("activity.html").decode().replace("<!--POSTS-->", self._render(0))
            return Response(body=page.encode())
        if route == "/voyager/activity/jane":
            if not logged_in:
                return Response(401, b"")
            time.sleep(0.1)
            return Response(body=self._render(int(query.get("start", ["0"])[0])).encode())
        return Response(404, b"<html><head><title>Page not found</title></head><body>404</body></html>")

    def _login(self, form: dict[str, list[str]]) -> Response:
        user = form.get("session_key", [""])[0]
        password = form.get("session_password", [""])[0]
        if user == self.CHECKPOINT_USER:
            return _redirect("/checkpoint/challenge/AgHq1x9fixture")
        if user == self.USERNAME and password == self.PASSWORD:
            token = secrets.token_hex(8)
            self.sessions.add(token)
            self.logins += 1
            response = _redirect("/feed/")
            response.headers["Set-Cookie"] = f"li_at={token}; Path=/; Secure; HttpOnly"
            return response
        error = '<div id="error-for-password" class="form__label--error">Wrong email or password.</div>'
        return Response(body=self._login_page(password_error=error).encode())

    def _login_page(self, password_error: str = "") -> str:
        return self._file("login.html").decode().replace("<!--PASSWORD_ERROR-->", password_error)

    def _render(self, start: int) -> str:
        chunks = []
        for post in self.posts[start : start + self.BATCH]:
            extra = ""
            if "image" in post:
                extra = f'<div class="update-components-image"><img src="{html.escape(post["image"])}"></div>'
            if "reshared" in post:
                inner = post["reshared"]
                extra += (
                    f'<div class="feed-shared-update-v2__reshared" data-urn="{inner["urn"]}">'
                    '<div class="update-components-text">'
                    f"<span>{html.escape(inner['text'])}</span></div></div>"
                )
            chunks.append(
                self._post_template.format(urn=post["urn"], text=post["text"], extra=extra, reactions=7)
            )
        return "\n".join(chunks)

    def _file(self, name: str) -> bytes:
        return (FIXTURES / "linkedin" / name).read_bytes()

    @staticmethod
    def _session(headers: Any) -> str:
        for cookie in (headers.get("Cookie") or "").split(";"):
            name, _, value = cookie.strip().partition("=")
            if name == "li_at":
                return value
        return ""


def _redirect(location: str) -> Response:
    return Response(302, b"", headers={"Location": location})


class TLSServer(ThreadingHTTPServer):
    """A threaded HTTPS server; the TLS handshake runs in the request's thread, not the accept loop."""

    daemon_threads = True

    def __init__(self, site: Site, context: ssl.SSLContext) -> None:
        self.site = site
        self.tls = context
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        request.settimeout(10)
        try:
            tls_request = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that gave up on the handshake (Chrome speculates connections)
        super().finish_request(tls_request, client_address)

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    server: TLSServer

    def do_GET(self) -> None:
        self._answer("GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer("POST", self.rfile.read(length))

    def _answer(self, method: str, body: bytes) -> None:
        site = self.server.site
        site.record(method, self.path)
        response = site.handle(method, self.path, self.headers, body)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the sites record their requests instead."""


def start(site: Site, context: ssl.SSLContext) -> TLSServer:
    server = TLSServer(site, context)
    threading.Thread(target=server.serve_forever, name=f"{type(site).__name__}-server", daemon=True).start()
    return server


class LoopbackTransport(httpx.BaseTransport):
    """Sends https://<mapped host>/ requests to the local server, keeping the Host header and SNI.

    The HTTP fetcher's own equivalent of Chrome's --host-resolver-rules: the certificate is still
    verified, against the test CA, for the real host name.
    """

    def __init__(self, ports: dict[str, int], verify: ssl.SSLContext) -> None:
        self._ports = ports
        self._inner = httpx.HTTPTransport(verify=verify)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host not in self._ports:
            raise httpx.ConnectError(f"[Errno -2] Name or service not known: {host}", request=request)
        local = httpx.Request(
            request.method,
            request.url.copy_with(host="127.0.0.1", port=self._ports[host]),
            headers=request.headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": host},
        )
        return self._inner.handle_request(local)

    def close(self) -> None:
        self._inner.close()


def host_rules(medium_port: int, linkedin_port: int) -> str:
    """CHROME_EXTRA_ARGS that send the real names to the fixtures and every other name nowhere."""
    rules = ", ".join(
        (
            f"MAP medium.com 127.0.0.1:{medium_port}",
            f"MAP *.medium.com 127.0.0.1:{medium_port}",
            f"MAP www.linkedin.com 127.0.0.1:{linkedin_port}",
            f"MAP linkedin.com 127.0.0.1:{linkedin_port}",
            "MAP * ~NOTFOUND",
            "EXCLUDE localhost",
        )
    )
    return f'--host-resolver-rules="{rules}" --ignore-certificate-errors'


def chrome_processes(profile_dirs: list[str]) -> list[int]:
    """PIDs of live processes started with any of these --user-data-dir folders."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if state != "Z" and any(f"--user-data-dir={d}" in cmdline for d in profile_dirs):
            pids.append(int(proc.name))
    return pids

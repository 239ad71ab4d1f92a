"""Real local servers for the crawler tests: static fixture sites, scripted routes, git over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/rss+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass
class Hit:
    path: str
    host: str
    start: float
    end: float = 0.0


Route = Callable[["FixtureHandler"], None]


class FixtureHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FixtureServer

    def do_GET(self) -> None:
        hit = Hit(self.path.split("?", 1)[0], self.headers.get("Host", ""), time.monotonic())
        with self.server.lock:
            self.server.hits.append(hit)
        try:
            route = self.server.routes.get(hit.path)
            if route is not None:
                route(self)
            else:
                self.serve_static(hit.path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            hit.end = time.monotonic()

    def serve_static(self, path: str) -> None:
        root = self.server.root
        if root is None:
            self.send_body(404, b"not found", "text/plain")
            return
        relative = path.lstrip("/") or "index.html"
        candidates = [root / relative, root / f"{relative}.html", root / f"{relative}.xml"]
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved.is_file() and root.resolve() in resolved.parents:
                content_type = CONTENT_TYPES.get(resolved.suffix, "application/octet-stream")
                self.send_body(200, resolved.read_bytes(), content_type)
                return
        self.send_body(404, b"<html><body>not found</body></html>", "text/html")

    def send_body(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class FixtureServer(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1 that records every request (path, host, timestamps)."""

    daemon_threads = True

    def __init__(self, root: Path | None = None, routes: dict[str, Route] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), FixtureHandler)
        self.root = root
        self.routes: dict[str, Route] = dict(routes or {})
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.state: dict[str, object] = {}
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for hit in self.hits if hit.path == path)

    def hits_for(self, path: str) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if hit.path == path]

    def start(self) -> FixtureServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class HostRewriteTransport(httpx.HTTPTransport):
    """Sends requests for the named hosts to 127.0.0.1:<port> over plain HTTP, keeping the Host
    header, so crawlers see real host names (x.substack.com) while talking to fixture servers."""

    def __init__(self, hosts: dict[str, int]) -> None:
        super().__init__()
        self.hosts = hosts

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        port = self.hosts.get(request.url.host)
        if port is None:
            return super().handle_request(request)
        # A copy: the client keeps the original request (and URL) on the response.
        local = httpx.Request(
            request.method,
            request.url.copy_with(scheme="http", host="127.0.0.1", port=port),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return super().handle_request(local)


def refused_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SilentTcpServer:
    """Accepts connections and never answers: a hanging git or HTTP server."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self.connections:
            conn.close()
        self.sock.close()


# --- git over smart HTTP: `git http-backend` as CGI behind a tiny WSGI server ----------------------


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietWSGIHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def git_http_backend_app(project_root: Path) -> Callable:
    """A WSGI app running `git http-backend` per request (keeps CGI status codes, unlike
    `http.server --cgi`)."""

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(project_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": environ["REQUEST_METHOD"],
            "PATH_INFO": environ.get("PATH_INFO", ""),
            "QUERY_STRING": environ.get("QUERY_STRING", ""),
            "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
        }
        env.update({key: value for key, value in environ.items() if key.startswith("HTTP_")})
        result = subprocess.run(
            ["git", "-c", "safe.directory=*", "http-backend"],
            input=body,
            env=env,
            capture_output=True,
            check=False,
        )
        raw = result.stdout
        split_at, gap = min(
            ((raw.find(sep), len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if raw.find(sep) >= 0),
            default=(len(raw), 0),
        )
        head, payload = raw[:split_at], raw[split_at + gap :]
        status = "200 OK"
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = value.strip()
            elif name:
                headers.append((name.strip(), value.strip()))
        start_response(status, headers)
        return [payload]

    return app


class GitHttpServer:
    """Serves every bare repository under `project_root` at http://127.0.0.1:<port>/<name>.git."""

    def __init__(self, project_root: Path) -> None:
        self.httpd = make_server(
            "127.0.0.1",
            0,
            git_http_backend_app(project_root),
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietWSGIHandler,
        )
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

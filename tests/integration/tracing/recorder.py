"""A stand-in Opik server on 127.0.0.1 that accepts everything and records what the SDK sends."""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class OpikRecorder:
    server: ThreadingHTTPServer
    requests: list[Recorded] = field(default_factory=list)

    @property
    def url(self) -> str:
        """What OPIK_URL_OVERRIDE points at (the SDK adds /v1/private/...)."""
        return f"http://127.0.0.1:{self.server.server_port}/api"

    def traces(self) -> list[dict[str, Any]]:
        return [t for r in self.requests if r.path.endswith("/traces/batch") for t in r.body["traces"]]

    def spans(self) -> list[dict[str, Any]]:
        return [s for r in self.requests if r.path.endswith("/spans/batch") for s in r.body["spans"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_recorder() -> OpikRecorder:
    recorded: list[Recorded] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.headers.get("content-encoding") == "gzip":
                raw = gzip.decompress(raw)
            body = json.loads(raw) if raw else None
            recorded.append(Recorded(self.command, self.path, dict(self.headers), body))
            if self.command == "POST" and self.path.endswith("/batch"):
                self.send_response(204)
                self.end_headers()
                return
            payload = b"{}"
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = _record

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return OpikRecorder(server, recorded)

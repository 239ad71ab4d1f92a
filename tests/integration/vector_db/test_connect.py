"""connect_vector_index picks the server or the embedded store, and fails fast on a dead server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llm_engineering.domain.exceptions import StoreUnavailable
from llm_engineering.infrastructure.db.vector_factory import connect_vector_index
from llm_engineering.infrastructure.db.vector_releases import ReleaseReaderIndex, ReleaseWriterIndex
from llm_engineering.settings import Settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settings(data_dir: Path, **values: object) -> Settings:
    return Settings(_env_file=None, DATA_DIR=data_dir, **values)


@pytest.mark.parametrize("mode", ["reader", "writer"])
def test_an_unreachable_server_fails_fast_and_writes_nothing(tmp_path: Path, mode: str) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    data_dir = tmp_path / "data"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="unreachable") as caught:
        connect_vector_index(_settings(data_dir, QDRANT_URL=url), mode=mode)
    assert time.monotonic() - started < 5
    assert url in str(caught.value) and "QDRANT_URL" in str(caught.value)
    assert not data_dir.exists()


@pytest.fixture
def key_checking_server() -> Iterator[str]:
    """A stand-in answering like Qdrant does to a wrong API key (no Qdrant server can run here)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.headers.get("api-key") == "right" else 401
            if self.path == "/":
                body = b'{"title":"qdrant - vector search engine","version":"1.20.0"}'
            else:
                body = b'{"result":{"collections":[]},"status":"ok","time":0.0}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_a_rejected_api_key_is_reported_at_connect(tmp_path: Path, key_checking_server: str) -> None:
    with pytest.raises(StoreUnavailable, match="QDRANT_API_KEY"):
        connect_vector_index(
            _settings(tmp_path, QDRANT_URL=key_checking_server, QDRANT_API_KEY="wrong"), mode="writer"
        )
    index = connect_vector_index(
        _settings(tmp_path, QDRANT_URL=key_checking_server, QDRANT_API_KEY="right"), mode="writer"
    )
    try:
        assert index.publish() is None and index.refresh() is False  # a server needs neither
    finally:
        index.close()


def test_embedded_modes_open_the_writer_and_a_reader_side_by_side(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "data")
    writer = connect_vector_index(settings, mode="writer")
    reader = connect_vector_index(settings, mode="reader")
    try:
        assert isinstance(writer, ReleaseWriterIndex)
        assert isinstance(reader, ReleaseReaderIndex)
        writer.ensure_collection("chunks", vector_size=2)
        writer.upsert("chunks", ["6a1f8f5e-0d3c-4c1b-9c8e-1d2f3a4b5c6d"], [{}], [[1.0, 0.0]])
        writer.publish()
        assert reader.refresh() is True
        assert reader.count("chunks") == 1
        assert (settings.vector_dir / "CURRENT").is_file()
    finally:
        reader.close()
        writer.close()
    with pytest.raises(ValueError, match="mode"):
        connect_vector_index(settings, mode="both")  # type: ignore[arg-type]

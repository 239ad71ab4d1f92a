"""A password or key inside QDRANT_URL is never printed in an error message."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from llm_engineering.domain.exceptions import StoreUnavailable
from llm_engineering.infrastructure.db.qdrant import redacted_url
from llm_engineering.infrastructure.db.vector_factory import connect_vector_index
from llm_engineering.settings import Settings


def test_an_unreachable_server_with_a_password_in_its_url_does_not_print_it(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://admin:pa55word@127.0.0.1:{port}/?api-key=k3y"
    settings = Settings(_env_file=None, DATA_DIR=tmp_path, QDRANT_URL=url)
    with pytest.raises(StoreUnavailable, match="unreachable") as caught:
        connect_vector_index(settings, mode="reader")
    message = str(caught.value)
    assert "pa55word" not in message and "admin" not in message and "k3y" not in message
    assert f"http://***@127.0.0.1:{port}/" in message


def test_redacted_url() -> None:
    assert (
        redacted_url("https://u:p@Qdrant.example:6333/base?key=1#x") == "https://***@qdrant.example:6333/base"
    )
    assert redacted_url("http://127.0.0.1:6333") == "http://127.0.0.1:6333"

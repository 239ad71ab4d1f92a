"""GitCrawler over a dumb-HTTP server (a plain static file server over a bare repository): the
shallow clone is refused by git, so the crawler clones the full history, says so, and keeps the
same time limit."""

from __future__ import annotations

import contextlib
import functools
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from loguru import logger

from llm_engineering.application.crawlers.github import GitCrawler
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from tests.integration.crawlers_http.test_git_crawler import TEXT_FILES, _git

CHANGELOG = "# Changes\n\n- second commit\n"


class _QuietStaticHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]


class _SlowStaticHandler(_QuietStaticHandler):
    def do_GET(self) -> None:
        if "/objects/" in self.path:
            time.sleep(3)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().do_GET()


def _serve(directory: Path, handler: type[SimpleHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    server.daemon_threads = True
    server.paths = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def dumb_root(tmp_path: Path) -> Path:
    """A bare repository with one commit per file, ready for dumb HTTP (`git update-server-info`)."""
    source_repo = tmp_path / "src" / "demo"
    _git("init", "-q", "-b", "main", str(source_repo))
    identity = ("-c", "user.name=Test", "-c", "user.email=t@example.test")
    for relative, text in {**TEXT_FILES, "CHANGELOG.md": CHANGELOG}.items():
        (source_repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (source_repo / relative).write_text(text, encoding="utf-8")
        _git("add", relative, cwd=source_repo)
        _git(*identity, "commit", "-q", "-m", f"add {relative}", cwd=source_repo)
    root = tmp_path / "static"
    root.mkdir()
    bare = root / "demo.git"
    _git("clone", "-q", "--bare", "--no-local", str(source_repo), str(bare))
    _git("update-server-info", cwd=bare)
    return root


@pytest.fixture
def dumb_http(dumb_root: Path) -> Iterator[ThreadingHTTPServer]:
    server = _serve(dumb_root, _QuietStaticHandler)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="INFO")
    yield lines
    logger.remove(sink)


def test_plain_git_refuses_a_shallow_clone_here(dumb_http, tmp_path) -> None:
    """The premise: git itself cannot clone shallow from this server."""
    url = f"http://127.0.0.1:{dumb_http.server_address[1]}/demo.git"
    result = subprocess.run(
        ["git", "clone", "--depth", "1", url, str(tmp_path / "shallow")], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "does not support shallow" in result.stderr


def test_dumb_http_falls_back_to_a_full_clone(make_context, user, dumb_http, log_lines) -> None:
    link = f"http://127.0.0.1:{dumb_http.server_address[1]}/demo.git"
    [document] = GitCrawler(make_context()).extract(link, user)
    assert document.content == {**TEXT_FILES, "CHANGELOG.md": CHANGELOG}
    assert document.link == link
    warnings = [line for line in log_lines if "dumb HTTP" in line]
    assert len(warnings) == 1 and "full history" in warnings[0], log_lines
    assert any(path.startswith("/demo.git/info/refs") for path in dumb_http.paths)


def test_the_fallback_keeps_the_clone_time_limit(make_context, user, dumb_root, log_lines) -> None:
    server = _serve(dumb_root, _SlowStaticHandler)
    try:
        link = f"http://127.0.0.1:{server.server_address[1]}/demo.git"
        started = time.monotonic()
        with pytest.raises(CrawlError) as caught:
            GitCrawler(make_context(GIT_CLONE_TIMEOUT=2.0)).extract(link, user)
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert caught.value.kind is ErrorKind.TIMEOUT
    assert "GIT_CLONE_TIMEOUT=2" in str(caught.value)
    assert any("dumb HTTP" in line for line in log_lines)
    assert elapsed < 4.5, f"the full clone got a fresh time budget ({elapsed:.1f}s)"

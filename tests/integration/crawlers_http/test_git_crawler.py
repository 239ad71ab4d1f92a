"""GitCrawler against real repositories: file://, plain paths, bundles, smart HTTP, a hanging host."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_engineering.application.crawlers.github import (
    GitCrawler,
    repository_name,
    repository_platform,
    strip_credentials,
)
from llm_engineering.domain.documents import RepositoryDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from tests.integration.crawlers_http.servers import GitHttpServer, SilentTcpServer

PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
TEXT_FILES = {
    "README.md": "# demo\n\nA small repository for crawler tests.\n",
    "src/demo/core.py": "def answer() -> int:\n    return 42\n",
    "docs/notes/deep/nested.txt": "Nested text, with unicode: naïve café.\n",
}
BINARY_FILES = {
    "poetry.lock": b"[[package]]\nname = 'x'\n",
    "package-lock.json": b'{"lockfileVersion": 3}\n',
    "assets/logo.png": PNG_BYTES,
    "data/blob.dat": b"header\x00\x01\x02 binary payload",
    "data/big.txt": b"a line of text that is repeated\n" * (2 * 1024 * 1024 // 32),
}


def _git(*args: str, cwd: Path | None = None) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.fixture
def source_repo(tmp_path: Path) -> Path:
    """A real repository with a text file, lock files, a PNG, a NUL binary, a 2 MB file, nested dirs."""
    repo = tmp_path / "src-repos" / "demo"
    repo.mkdir(parents=True)
    _git("init", "-q", "-b", "main", str(repo))
    for relative, text in TEXT_FILES.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text, encoding="utf-8")
    for relative, data in BINARY_FILES.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_bytes(data)
    _git("add", "-A", cwd=repo)
    _git("-c", "user.name=Test", "-c", "user.email=t@example.test", "commit", "-q", "-m", "init", cwd=repo)
    return repo


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point tempfile at a folder we can inspect, to prove clones are always removed."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def git_http(tmp_path: Path, source_repo: Path) -> Iterator[GitHttpServer]:
    served = tmp_path / "served"
    served.mkdir()
    _git("clone", "-q", "--bare", str(source_repo), str(served / "demo.git"))
    server = GitHttpServer(served)
    yield server
    server.close()


def _crawl(make_context, user, link: str, **settings) -> RepositoryDocument:
    [document] = GitCrawler(make_context(**settings)).extract(link, user)
    assert isinstance(document, RepositoryDocument)
    return document


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


class TestCloneSources:
    def test_file_url_keeps_exactly_the_text_files(self, make_context, user, source_repo, temp_root) -> None:
        link = source_repo.as_uri()
        document = _crawl(make_context, user, link)
        assert document.content == TEXT_FILES
        assert document.name == "demo"
        assert document.link == link
        assert document.platform == "git"
        assert document.author_full_name == "Test Person"
        assert list(temp_root.iterdir()) == []

    def test_plain_path(self, make_context, user, source_repo, temp_root) -> None:
        document = _crawl(make_context, user, str(source_repo))
        assert document.content == TEXT_FILES
        assert document.link == str(source_repo)
        assert list(temp_root.iterdir()) == []

    def test_bundle(self, make_context, user, source_repo, tmp_path, temp_root) -> None:
        bundle = tmp_path / "demo.bundle"
        _git("bundle", "create", str(bundle), "--all", cwd=source_repo)
        document = _crawl(make_context, user, str(bundle))
        assert document.content == TEXT_FILES
        assert document.name == "demo"

    def test_smart_http(self, make_context, user, git_http, temp_root) -> None:
        link = f"{git_http.base_url}/demo.git"
        document = _crawl(make_context, user, link)
        assert document.content == TEXT_FILES
        assert document.name == "demo"
        assert document.platform == "127.0.0.1"
        assert list(temp_root.iterdir()) == []

    def test_credentials_never_reach_the_document(self, make_context, user, git_http) -> None:
        document = _crawl(make_context, user, f"http://bob:t0ken@127.0.0.1:{git_http.port}/demo.git")
        assert document.link == f"http://***@127.0.0.1:{git_http.port}/demo.git"
        assert document.content == TEXT_FILES

    def test_larger_file_limit_keeps_the_big_text_file(self, make_context, user, source_repo) -> None:
        document = _crawl(make_context, user, source_repo.as_uri(), GIT_MAX_FILE_BYTES=4 * 1024 * 1024)
        assert set(document.content) == {*TEXT_FILES, "data/big.txt"}


class TestCloneFailures:
    def test_missing_local_repo(self, make_context, user, tmp_path, temp_root) -> None:
        link = (tmp_path / "nowhere").as_uri()
        with pytest.raises(CrawlError) as caught:
            GitCrawler(make_context()).extract(link, user)
        assert caught.value.kind is ErrorKind.REPO_NOT_FOUND
        assert link in str(caught.value)
        assert "\n" not in str(caught.value)
        assert list(temp_root.iterdir()) == []

    def test_missing_http_repo_hides_credentials(self, make_context, user, git_http, temp_root) -> None:
        link = f"http://alice:s3cret@127.0.0.1:{git_http.port}/missing.git"
        with pytest.raises(CrawlError) as caught:
            GitCrawler(make_context()).extract(link, user)
        assert caught.value.kind is ErrorKind.REPO_NOT_FOUND
        assert "s3cret" not in str(caught.value)
        assert f"127.0.0.1:{git_http.port}/missing.git" in str(caught.value)
        assert list(temp_root.iterdir()) == []

    def test_other_git_errors(self, make_context, user, tmp_path, temp_root) -> None:
        not_a_bundle = tmp_path / "broken.bundle"
        not_a_bundle.write_text("this is not a bundle\n")
        with pytest.raises(CrawlError) as caught:
            GitCrawler(make_context()).extract(str(not_a_bundle), user)
        assert caught.value.kind in (ErrorKind.GIT, ErrorKind.REPO_NOT_FOUND)
        assert "fatal:" in str(caught.value)
        assert list(temp_root.iterdir()) == []

    @pytest.mark.parametrize("scheme", ["http", "git"])
    def test_hanging_clone_times_out_and_leaves_no_process(
        self, make_context, user, temp_root, scheme
    ) -> None:
        silent = SilentTcpServer()
        try:
            link = f"{scheme}://127.0.0.1:{silent.port}/stuck.git"
            started = time.monotonic()
            with pytest.raises(CrawlError) as caught:
                GitCrawler(make_context(GIT_CLONE_TIMEOUT=1.5)).extract(link, user)
            elapsed = time.monotonic() - started
        finally:
            silent.close()
        assert caught.value.kind is ErrorKind.TIMEOUT
        assert "GIT_CLONE_TIMEOUT" in str(caught.value)
        assert elapsed < 8
        assert silent.connections, "git never reached the silent server"
        assert _processes_mentioning(f"127.0.0.1:{silent.port}") == []
        assert list(temp_root.iterdir()) == []


class TestNaming:
    @pytest.mark.parametrize(
        ("link", "name", "platform"),
        [
            ("https://github.com/user/project.git", "project", "github"),
            ("git@github.com:user/project.git", "project", "github"),
            ("ssh://git@gitlab.example.com/team/tool.git", "tool", "gitlab.example.com"),
            ("/srv/repos/thing.bundle", "thing", "git"),
            ("file:///srv/repos/other/", "other", "git"),
        ],
    )
    def test_name_and_platform(self, link: str, name: str, platform: str) -> None:
        assert repository_name(link) == name
        assert repository_platform(link) == platform

    def test_strip_credentials(self) -> None:
        assert strip_credentials("fatal: https://bob:tok@host/x.git") == "fatal: https://***@host/x.git"

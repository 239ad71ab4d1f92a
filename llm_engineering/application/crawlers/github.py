"""Any git repository (GitHub or not): a shallow clone into a temp dir, its text files kept.
A dumb-HTTP server cannot serve a shallow clone: then the full history is cloned instead.

git runs non-interactively (no credential prompt can hang a worker), in its own process group
so a timeout kills every helper it spawned, and never with our working directory changed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import ClassVar
from urllib.parse import urlsplit

from loguru import logger

from llm_engineering.application.crawlers.base import BaseCrawler, checkpoint
from llm_engineering.application.crawlers.network import NetworkPolicy
from llm_engineering.application.crawlers.urls import domain_of, redact_link
from llm_engineering.domain.documents import ContentDocument, RepositoryDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind

LOCK_FILES = frozenset(
    {
        "poetry.lock",
        "pdm.lock",
        "uv.lock",
        "pipfile.lock",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "cargo.lock",
        "composer.lock",
        "gemfile.lock",
        "go.sum",
        "podfile.lock",
        "mix.lock",
        "pubspec.lock",
        "flake.lock",
        "packages.lock.json",
    }
)
BINARY_EXTENSIONS = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".bmp",
        ".ico",
        ".icns",
        ".webp",
        ".tif",
        ".tiff",
        ".psd",
        ".svgz",
        ".heic",
        ".avif",
        ".pdf",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".odt",
        ".ods",
        ".odp",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".zst",
        ".7z",
        ".rar",
        ".tar",
        ".jar",
        ".war",
        ".whl",
        ".egg",
        ".apk",
        ".dmg",
        ".iso",
        ".exe",
        ".dll",
        ".so",
        ".dylib",
        ".a",
        ".o",
        ".obj",
        ".lib",
        ".bin",
        ".class",
        ".pyc",
        ".pyo",
        ".pyd",
        ".wasm",
        ".mp3",
        ".mp4",
        ".m4a",
        ".wav",
        ".flac",
        ".ogg",
        ".avi",
        ".mov",
        ".mkv",
        ".webm",
        ".ttf",
        ".otf",
        ".woff",
        ".woff2",
        ".eot",
        ".pt",
        ".pth",
        ".ckpt",
        ".safetensors",
        ".onnx",
        ".gguf",
        ".h5",
        ".hdf5",
        ".npy",
        ".npz",
        ".pkl",
        ".pickle",
        ".parquet",
        ".feather",
        ".sqlite",
        ".sqlite3",
        ".db",
        ".lockb",
    }
)
#: bytes looked at for a NUL, the same test git uses to call a file binary
BINARY_SNIFF_BYTES = 8192

_NOT_FOUND = (
    "not found",
    "does not exist",
    "does not appear to be a git repository",
    "could not read username",
)
_TOO_SLOW = ("operation too slow", "timed out")
#: git's answer to --depth over a dumb-HTTP server
_SHALLOW_UNSUPPORTED = "does not support shallow"

#: hides `user:token@` in any URL inside a text (messages and logs must not leak tokens)
strip_credentials = redact_link


class GitCrawler(BaseCrawler):
    """Clones `--depth 1` and returns one RepositoryDocument of the repository's text files."""

    name: ClassVar[str] = "github"

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        workdir = Path(tempfile.mkdtemp(prefix="llmtwin-git-"))
        try:
            checkout = workdir / "repo"
            self._clone(link, checkout)
            files = self._read_text_files(checkout)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            if workdir.exists():
                logger.error("Could not remove the temporary clone {}", workdir)
        if not files:
            raise CrawlError(
                ErrorKind.NO_CONTENT,
                f"{strip_credentials(link)} holds no text files (empty, or only binaries): "
                "nothing to learn from",
            )
        return [repository_document(link, files, user)]

    def _clone(self, link: str, destination: Path) -> None:
        """A shallow clone; over a dumb-HTTP server (no shallow support) a full clone, within the
        same GIT_CLONE_TIMEOUT and the same speed limits."""
        deadline = time.monotonic() + self.context.settings.GIT_CLONE_TIMEOUT
        shown = strip_credentials(link)
        host, port = _remote_host(link)
        if host:
            # git resolves the name itself: the policy checks it first (redirects are git's own).
            NetworkPolicy.from_settings(self.context.settings).check_host(host, port, what=shown)
        logger.info("Cloning {}", shown)
        detail = self._run_clone(link, destination, deadline, shallow=True)
        if detail is not None and _SHALLOW_UNSUPPORTED in detail.lower():
            logger.warning(
                "{} is served over dumb HTTP, which cannot clone shallow: cloning its full history "
                "instead (same GIT_CLONE_TIMEOUT)",
                shown,
            )
            shutil.rmtree(destination, ignore_errors=True)
            detail = self._run_clone(link, destination, deadline, shallow=False)
        if detail is None:
            return
        if any(hint in detail.lower() for hint in _TOO_SLOW):
            raise CrawlError(
                ErrorKind.TIMEOUT, f"cloning {shown} stalled ({detail}): check the host or retry later"
            )
        if any(hint in detail.lower() for hint in _NOT_FOUND):
            raise CrawlError(
                ErrorKind.REPO_NOT_FOUND,
                f"{shown}: repository not found or private ({detail}): "
                "check the link and that the repository is public",
            )
        raise CrawlError(ErrorKind.GIT, f"git clone {shown} failed: {detail}")

    def _run_clone(self, link: str, destination: Path, deadline: float, *, shallow: bool) -> str | None:
        """Run one `git clone` until `deadline`; None on success, else git's error line."""
        command = [
            "git",
            "-c",
            "credential.helper=",
            "-c",
            "core.askPass=",
            "-c",
            "protocol.ext.allow=never",
            "clone",
            *(("--depth", "1") if shallow else ()),
            "--single-branch",
            "--no-tags",
            "--quiet",
            "--",
            clone_source(link),
            str(destination),
        ]
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_git_environment(),
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise CrawlError(
                ErrorKind.GIT, "git is not installed: install git to crawl repositories"
            ) from exc
        try:
            stderr = _wait(
                process, deadline, strip_credentials(link), self.context.settings.GIT_CLONE_TIMEOUT
            )
        except BaseException:
            _kill_group(process)
            raise
        if process.returncode == 0:
            return None
        return strip_credentials(_git_error_line(stderr.decode("utf-8", errors="replace")))

    def _read_text_files(self, checkout: Path) -> dict[str, str]:
        timeout = self.context.settings.GIT_CLONE_TIMEOUT
        try:
            listing = subprocess.run(
                ["git", "-C", str(checkout), "ls-files", "-z"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=_git_environment(),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CrawlError(
                ErrorKind.TIMEOUT, f"listing the files of the clone took over {timeout:g}s: retry later"
            ) from exc
        if listing.returncode != 0:
            raise CrawlError(
                ErrorKind.GIT, f"git ls-files failed: {_git_error_line(listing.stderr.decode())}"
            )
        max_bytes = self.context.settings.GIT_MAX_FILE_BYTES
        files: dict[str, str] = {}
        skipped = 0
        for raw in listing.stdout.split(b"\0"):
            if not raw:
                continue
            checkpoint("reading the clone's files")
            relative = raw.decode("utf-8", errors="surrogateescape")
            text = _read_if_text(checkout, relative, max_bytes)
            if text is None:
                skipped += 1
            else:
                files[relative] = text
        logger.info("Kept {} text files, skipped {}", len(files), skipped)
        return files


def _remote_host(link: str) -> tuple[str | None, int | None]:
    """The host (and port) git will connect to; (None, None) for local paths and file:// URLs."""
    scp = re.match(r"^[\w.-]+@(?P<host>[\w.-]+):", link)
    if scp and "://" not in link:
        return scp.group("host"), None
    try:
        parts = urlsplit(link)
        return (parts.hostname, parts.port) if parts.scheme.lower() != "file" else (None, None)
    except ValueError:
        return None, None


def clone_source(link: str) -> str:
    """What to hand `git clone`: local directories become file:// URLs so --depth applies."""
    if "://" in link or re.match(r"^[\w.-]+@[\w.-]+:", link):
        return link
    path = Path(link).expanduser().resolve()
    return path.as_uri() if path.is_dir() else str(path)


def repository_name(link: str) -> str:
    """The repository's name: the last path segment without `.git` or `.bundle`."""
    path = urlsplit(link).path if "://" in link else link.split(":", 1)[-1] if "@" in link else link
    name = PurePosixPath(path.rstrip("/")).name or "repository"
    for suffix in (".git", ".bundle"):
        name = name.removesuffix(suffix)
    return name or "repository"


def repository_platform(link: str) -> str:
    """ "github" for github.com, the host for other servers, "git" for local repositories."""
    domain = domain_of(link)
    if domain == "github.com":
        return "github"
    return "git" if domain == "local" else domain


def _read_if_text(checkout: Path, relative: str, max_bytes: int) -> str | None:
    parts = PurePosixPath(relative).parts
    if ".git" in parts:
        return None
    name = parts[-1].lower()
    if name in LOCK_FILES or PurePosixPath(name).suffix in BINARY_EXTENSIONS:
        return None
    path = checkout / relative
    # Symlinks could point outside the checkout; submodules are directories.
    if path.is_symlink() or not path.is_file():
        return None
    try:
        if path.stat().st_size > max_bytes:
            return None
        data = path.read_bytes()
    except OSError as exc:
        logger.warning("Skipping unreadable file {}: {}", relative, exc)
        return None
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return None
    return data.decode("utf-8", errors="replace")


def _git_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "GCM_INTERACTIVE": "never",
            "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
            "GIT_HTTP_LOW_SPEED_TIME": "30",
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=10",
            "GIT_LFS_SKIP_SMUDGE": "1",
            "LC_ALL": "C",
            "LANGUAGE": "C",
        }
    )
    return env


def _wait(process: subprocess.Popen[bytes], deadline: float, shown: str, timeout: float) -> bytes:
    """git's stderr once it exits; TIMEOUT at `deadline` (GIT_CLONE_TIMEOUT=`timeout` s after the
    first clone began), or as soon as the link is cancelled."""
    while True:
        try:
            return process.communicate(timeout=min(0.5, max(0.01, deadline - time.monotonic())))[1]
        except subprocess.TimeoutExpired as exc:
            if time.monotonic() >= deadline:
                raise CrawlError(
                    ErrorKind.TIMEOUT,
                    f"cloning {shown} took longer than GIT_CLONE_TIMEOUT={timeout:g}s: "
                    "check the host is reachable or raise GIT_CLONE_TIMEOUT",
                ) from exc
            checkpoint(f"cloning {shown}")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill git and every helper it started (git-remote-http, ssh) and reap git."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        logger.error("git (pid {}) did not exit after SIGKILL", process.pid)


def _git_error_line(stderr: str) -> str:
    """git's `fatal:` lines on one line (else its last line): the part worth showing a user."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    if fatal:
        return " / ".join(fatal)
    return lines[-1] if lines else "no error output"


def repository_document(link: str, files: dict[str, str], user: UserDocument) -> RepositoryDocument:
    """The warehouse document of a repository's text files."""
    return RepositoryDocument(
        name=repository_name(link),
        # The link as given, minus any `user:token@` (a token must not land in the warehouse).
        link=strip_credentials(link),
        platform=repository_platform(link),
        content=files,
        author_id=user.id,
        author_full_name=user.full_name,
    )

"""Rebuild the sample person's binary artifacts from the text sources under `sample/src/`.

The output is deterministic (fixed timestamps, sorted entries, stored zip members, fixed git
author and dates), so the committed artifacts can be rebuilt exactly and checked in CI:

    python sample/build_sample.py            # rewrite sample/*.zip and sample/*.bundle
    python sample/build_sample.py --check    # rebuild in a temp dir, exit 1 if anything differs

Standard library only; needs `git` on the PATH for the bundle.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent
SRC_DIR = SAMPLE_DIR / "src"

MEDIUM_ZIP = "medium-export.zip"
LINKEDIN_ZIP = "linkedin-export.zip"
REPO_BUNDLE = "ada-sample-repo.bundle"
ARTIFACTS = (MEDIUM_ZIP, LINKEDIN_ZIP, REPO_BUNDLE)

#: every zip member gets this timestamp, so a rebuild gives the same bytes
ZIP_DATE = (2024, 1, 2, 9, 0, 0)
AUTHOR_NAME = "Ada Sample"
AUTHOR_EMAIL = "ada@example.org"
#: the sample repository's history: (date, message, files added; None = every remaining file)
COMMITS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    (
        "2024-01-10T09:00:00+00:00",
        "Start tiny-retriever: README, packaging and package skeleton",
        ("README.md", "pyproject.toml", ".gitignore", "tiny_retriever/__init__.py"),
    ),
    ("2024-02-03T16:30:00+00:00", "Add exact cosine search, tests, lock file and diagram", None),
)
PNG_PATH = "docs/diagram.png"


def build(out_dir: Path) -> list[Path]:
    """Write every artifact into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_zip(SRC_DIR / "medium", out_dir / MEDIUM_ZIP)
    write_zip(SRC_DIR / "linkedin", out_dir / LINKEDIN_ZIP)
    write_bundle(SRC_DIR / "repo", out_dir / REPO_BUNDLE)
    return [out_dir / name for name in ARTIFACTS]


def source_files(root: Path) -> list[str]:
    """Relative POSIX paths of the files under `root`, sorted (caches skipped)."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def write_zip(src: Path, target: Path) -> None:
    """Zip `src` with sorted members, one fixed timestamp and no compression (zlib-independent)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in source_files(src):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # Unix, so the mode below is read the same everywhere
            info.external_attr = 0o100644 << 16
            archive.writestr(info, (src / name).read_bytes())


def png_bytes(size: int = 16) -> bytes:
    """A small gradient PNG, written byte by byte (stored deflate blocks, so zlib cannot vary it)."""
    raw = b"".join(
        b"\x00" + bytes(v for x in range(size) for v in (x * 16, y * 16, 200)) for y in range(size)
    )
    # zlib stream of one stored block: header, BFINAL=1/BTYPE=00, LEN, NLEN, data, Adler-32
    stream = b"\x78\x01" + b"\x01" + struct.pack("<HH", len(raw), len(raw) ^ 0xFFFF) + raw
    stream += struct.pack(">I", zlib.adler32(raw))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")


def _git_env(date: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME=AUTHOR_NAME,
        GIT_AUTHOR_EMAIL=AUTHOR_EMAIL,
        GIT_COMMITTER_NAME=AUTHOR_NAME,
        GIT_COMMITTER_EMAIL=AUTHOR_EMAIL,
        GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_DATE=date,
        TZ="UTC",
    )
    return env


def _git(repo: Path, *args: str, date: str = COMMITS[0][0]) -> str:
    result = subprocess.run(
        ["git", "-c", "core.autocrlf=false", "-c", "pack.threads=1", *args],
        cwd=repo,
        env=_git_env(date),
        check=True,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    return result.stdout


def write_bundle(src: Path, target: Path) -> None:
    """Commit `src` (plus the generated PNG) as a fixed history on `main` and bundle it."""
    with tempfile.TemporaryDirectory(prefix="ada-sample-repo-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        _git(repo, "init", "-q", "-b", "main")
        files = {name: (src / name).read_bytes() for name in source_files(src)}
        files[PNG_PATH] = png_bytes()
        remaining = sorted(files)
        for date, message, paths in COMMITS:
            batch = sorted(paths) if paths is not None else remaining
            for name in batch:
                path = repo / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(files[name])
                path.chmod(0o644)
            remaining = [name for name in remaining if name not in batch]
            _git(repo, "add", "--", *batch, date=date)
            _git(repo, "commit", "-q", "--no-verify", "--no-gpg-sign", "-m", message, date=date)
        if target.exists():
            target.unlink()
        _git(repo, "bundle", "create", "-q", str(target), "HEAD", "main")


def bundle_heads(bundle: Path) -> str:
    """The refs and commit ids a bundle holds: its content, whatever git version packed it."""
    return subprocess.run(
        ["git", "bundle", "list-heads", str(bundle)],
        env=_git_env(COMMITS[0][0]),
        check=True,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    ).stdout


def check(artifacts_dir: Path) -> list[str]:
    """Rebuild into a temp dir; return one line per artifact that differs from `artifacts_dir`."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ada-sample-check-") as tmp:
        for fresh in build(Path(tmp)):
            committed = artifacts_dir / fresh.name
            if not committed.is_file():
                problems.append(f"{committed} is missing: run `python sample/build_sample.py`")
            elif committed.read_bytes() == fresh.read_bytes():
                continue
            elif fresh.name == REPO_BUNDLE and bundle_heads(committed) == bundle_heads(fresh):
                # Same commit ids means the same files, messages and dates; only another git/zlib
                # version compressed the pack differently.
                continue
            else:
                problems.append(f"{committed} differs from its sources: run `python sample/build_sample.py`")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="rebuild in a temp dir and compare, exit 1 on a difference"
    )
    parser.add_argument(
        "--artifacts", type=Path, default=SAMPLE_DIR, help="folder of the artifacts (default: sample/)"
    )
    args = parser.parse_args(argv)
    if shutil.which("git") is None:
        print("git is not on the PATH: install git to build the sample repository bundle", file=sys.stderr)
        return 2
    if args.check:
        problems = check(args.artifacts)
        for line in problems:
            print(line, file=sys.stderr)
        if not problems:
            print(f"sample artifacts in {args.artifacts} match their sources")
        return 1 if problems else 0
    for path in build(args.artifacts):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

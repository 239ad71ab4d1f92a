"""The committed sample artifacts: rebuildable byte for byte, and usable by real git and the ETL config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from llm_engineering.application.crawlers.exports import is_export_path
from llm_engineering.settings import REPO_ROOT
from tests.integration.exports.conftest import LINKEDIN_ZIP, MEDIUM_ZIP, REPO_BUNDLE, SAMPLE_DIR

BUILD = SAMPLE_DIR / "build_sample.py"


def _build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BUILD), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_committed_artifacts_match_their_sources() -> None:
    result = _build("--check")
    assert result.returncode == 0, result.stderr
    assert "match their sources" in result.stdout


def test_check_fails_when_an_artifact_differs(tmp_path: Path) -> None:
    for artifact in (MEDIUM_ZIP, LINKEDIN_ZIP, REPO_BUNDLE):
        shutil.copy(artifact, tmp_path / artifact.name)
    tampered = tmp_path / LINKEDIN_ZIP.name
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    (tmp_path / REPO_BUNDLE.name).unlink()

    result = _build("--check", "--artifacts", str(tmp_path))

    assert result.returncode == 1
    assert f"{tampered} differs from its sources" in result.stderr
    assert f"{tmp_path / REPO_BUNDLE.name} is missing" in result.stderr
    assert MEDIUM_ZIP.name not in result.stderr


def test_bundle_clones_shallow_with_real_git_on_main(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--depth", "1", str(REPO_BUNDLE), str(clone)],
        check=True,
        capture_output=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(clone), *args], check=True, capture_output=True, text=True, env=env, timeout=30
        ).stdout.strip()

    assert git("rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert (
        git("log", "-1", "--format=%an <%ae> %aI") == "Ada Sample <ada@example.org> 2024-02-03T16:30:00+00:00"
    )
    files = set(git("ls-files").splitlines())
    assert {
        "README.md",
        "pyproject.toml",
        "poetry.lock",
        ".gitignore",
        "tiny_retriever/search.py",
        "docs/diagram.png",
    } <= files
    assert (clone / "docs" / "diagram.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (clone / "tiny_retriever" / "search.py").read_text(encoding="utf-8") == (
        SAMPLE_DIR / "src" / "repo" / "tiny_retriever" / "search.py"
    ).read_text(encoding="utf-8")


def test_sample_etl_config_points_at_the_artifacts() -> None:
    config = yaml.safe_load(
        (REPO_ROOT / "configs" / "digital_data_etl_sample.yaml").read_text(encoding="utf-8")
    )
    parameters = config["parameters"]
    assert parameters["user_full_name"] == "Ada Sample"
    assert [(REPO_ROOT / link).resolve() for link in parameters["links"]] == [REPO_BUNDLE]
    kinds = [is_export_path(str(REPO_ROOT / path)) for path in parameters["exports"]]
    assert kinds == ["medium_export", "linkedin_export"]

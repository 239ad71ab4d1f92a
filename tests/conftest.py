"""Test-wide isolation: nothing a test does writes into the repo or phones home."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="llm-twin-tests-"))
# Set before anything imports zenml or reads settings.
os.environ["ZENML_ANALYTICS_OPT_IN"] = "false"
os.environ["ZENML_CONFIG_PATH"] = str(_SESSION_DIR / "zenml")
os.environ["ZENML_LOGGING_VERBOSITY"] = "WARN"
os.environ["ZENML_AUTO_OPEN_DASHBOARD"] = "false"
os.environ["DATA_DIR"] = str(_SESSION_DIR / "data")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["SE_OFFLINE"] = "true"
os.environ["SE_AVOID_STATS"] = "true"
# Every test server is on this machine: never send their requests to a proxy from the environment.
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = ",".join(filter(None, ["127.0.0.1,localhost,::1", os.environ.get(_name, "")]))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
HANDBOOK_DIR = SHARED_DIR / "datasets" / "handbook-articles"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DATA_DIR for one test, with the settings cache cleared around it."""
    from llm_engineering.settings import get_settings

    path = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture
def handbook_dir() -> Path:
    if not (HANDBOOK_DIR / "ArticleDocument.json").exists():
        pytest.skip("../shared/datasets/handbook-articles is absent")
    return HANDBOOK_DIR


def pytest_configure(config: pytest.Config) -> None:
    """ZenML takes its source root from `__main__.__file__`, which an xdist worker lacks: name ours."""
    if hasattr(config, "workerinput"):
        from zenml.utils import source_utils

        source_utils.set_custom_source_root(str(REPO_ROOT))

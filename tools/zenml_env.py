"""ZenML runs offline on a local store under DATA_DIR, with analytics off. Call before importing zenml."""

from __future__ import annotations

import os

from llm_engineering.settings import Settings


def prepare_zenml(settings: Settings) -> None:
    os.environ["ZENML_ANALYTICS_OPT_IN"] = "false"
    os.environ.setdefault("ZENML_CONFIG_PATH", str(settings.DATA_DIR.resolve() / "zenml"))
    os.environ.setdefault("ZENML_LOGGING_VERBOSITY", "WARN")
    os.environ.setdefault("ZENML_ENABLE_RICH_TRACEBACK", "false")
    os.environ.setdefault("ZENML_AUTO_OPEN_DASHBOARD", "false")

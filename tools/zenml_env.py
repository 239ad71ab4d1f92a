"""ZenML runs offline on a local store under DATA_DIR, with analytics off. Call before importing zenml."""

from __future__ import annotations

import os
from pathlib import Path

from llm_engineering.settings import Settings

#: seconds a run waits for another process that is creating the local store
INIT_LOCK_TIMEOUT = 300


def prepare_zenml(settings: Settings, *, initialize: bool = True) -> None:
    """Point ZenML at DATA_DIR and, with `initialize`, create its local store once.

    Two first runs at the same moment would both create and migrate the SQLite store, and one
    dies in alembic; a file lock makes the second wait for the first.
    """
    os.environ["ZENML_ANALYTICS_OPT_IN"] = "false"
    os.environ.setdefault("ZENML_CONFIG_PATH", str(settings.DATA_DIR.resolve() / "zenml"))
    os.environ.setdefault("ZENML_LOGGING_VERBOSITY", "WARN")
    os.environ.setdefault("ZENML_ENABLE_RICH_TRACEBACK", "false")
    os.environ.setdefault("ZENML_AUTO_OPEN_DASHBOARD", "false")
    if not initialize:
        return
    from filelock import FileLock

    config_dir = Path(os.environ["ZENML_CONFIG_PATH"])
    config_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(config_dir / ".init.lock"), timeout=INIT_LOCK_TIMEOUT):
        from zenml.client import Client

        Client().active_stack_model  # noqa: B018 - creates and migrates the local store

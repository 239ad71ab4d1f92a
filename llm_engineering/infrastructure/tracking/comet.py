"""Comet ML as the `ExperimentTracker`: online with `COMET_API_KEY`, else offline archives.

Offline, each run is one zip under `DATA_DIR/comet/` (`comet upload <zip>` sends it later);
`list_offline_runs` reads them back for `python -m tools.run experiments`. Nothing here ever
goes online without a key, and Comet's automatic environment/code/console logging is off.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import SecretStr

from llm_engineering.settings import Settings

# Comet reads these when it is imported and when an experiment starts: never probe cloud metadata
# addresses, never start online on its own.
_QUIET_ENV = {
    "COMET_AUTO_LOG_ENV_DETAILS": "false",
    "COMET_AUTO_LOG_ENV_HOST": "false",
    "COMET_AUTO_LOG_ENV_GPU": "false",
    "COMET_AUTO_LOG_ENV_CPU": "false",
    "COMET_AUTO_LOG_GIT_METADATA": "false",
    "COMET_AUTO_LOG_GIT_PATCH": "false",
    "COMET_AUTO_LOG_CODE": "false",
    "COMET_AUTO_LOG_GRAPH": "false",
    "COMET_AUTO_LOG_CO2": "false",
}
_EXPERIMENT_KWARGS: dict[str, Any] = {
    "log_code": False,
    "log_graph": False,
    "auto_param_logging": False,
    "auto_metric_logging": False,
    "auto_output_logging": False,
    "log_env_details": False,
    "log_git_metadata": False,
    "log_git_patch": False,
    "log_env_gpu": False,
    "log_env_cpu": False,
    "log_env_host": False,
    "display_summary_level": 0,
}


def _quiet_comet() -> Any:
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    import comet_ml

    return comet_ml


class CometRun:
    """One Comet experiment behind the `TrackedRun` port."""

    def __init__(self, experiment: Any, *, offline: bool) -> None:
        self._experiment = experiment
        self._ended = False
        self.offline = offline
        self.key: str = experiment.get_key()

    def log_params(self, params: dict[str, Any]) -> None:
        self._experiment.log_parameters(_flatten(params))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}
        if numeric:
            self._experiment.log_metrics(numeric, step=step)

    def log_text(self, name: str, text: str) -> None:
        self._experiment.log_asset_data(text, name=name)

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self._experiment.end()
            where = "its offline archive" if self.offline else "Comet"
            logger.info(f"experiment {self.key} written to {where}")

    def __enter__(self) -> CometRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.end()


class CometTracker:
    """Starts Comet runs: `Experiment` with an API key, `OfflineExperiment` into `offline_dir` without."""

    def __init__(
        self,
        *,
        project: str,
        offline_dir: Path,
        api_key: SecretStr | None = None,
        workspace: str | None = None,
    ) -> None:
        self.project = project
        self.offline_dir = offline_dir
        self.workspace = workspace or None
        self._api_key = api_key

    @property
    def online(self) -> bool:
        return self._api_key is not None and bool(self._api_key.get_secret_value())

    def start_run(self, name: str, *, params: dict[str, Any], tags: list[str]) -> CometRun:
        comet_ml = _quiet_comet()
        if self.online:
            assert self._api_key is not None
            experiment = comet_ml.Experiment(
                api_key=self._api_key.get_secret_value(),
                project_name=self.project,
                workspace=self.workspace,
                **_EXPERIMENT_KWARGS,
            )
        else:
            self.offline_dir.mkdir(parents=True, exist_ok=True)
            experiment = comet_ml.OfflineExperiment(
                project_name=self.project,
                workspace=self.workspace,
                offline_directory=str(self.offline_dir),
                **_EXPERIMENT_KWARGS,
            )
        experiment.set_name(name)
        if tags:
            experiment.add_tags(list(tags))
        run = CometRun(experiment, offline=not self.online)
        run.log_params(params)
        return run


def build_tracker(settings: Settings) -> CometTracker:
    return CometTracker(
        project=settings.COMET_PROJECT,
        workspace=settings.COMET_WORKSPACE or None,
        api_key=settings.COMET_API_KEY,
        offline_dir=settings.DATA_DIR.resolve() / "comet",
    )


def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = ",".join(map(str, value))
        elif value is None or isinstance(value, str | int | float | bool):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


# --- reading offline archives back --------------------------------------------------------------


@dataclass
class OfflineRun:
    """What an offline archive holds: its name, tags, parameters and every logged metric value."""

    key: str
    archive: Path
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    #: metric name -> [(step, value), ...] in logging order
    metrics: dict[str, list[tuple[int | None, float]]] = field(default_factory=dict)
    assets: list[str] = field(default_factory=list)
    started_at: float | None = None

    def last(self, metric: str) -> float | None:
        values = self.metrics.get(metric)
        return values[-1][1] if values else None


def list_offline_runs(offline_dir: Path) -> list[OfflineRun]:
    """Every offline archive in `offline_dir`, oldest first."""
    if not offline_dir.is_dir():
        return []
    runs = [read_offline_archive(path) for path in sorted(offline_dir.glob("*.zip"))]
    return sorted(runs, key=lambda run: (run.started_at or 0.0, run.key))


def read_offline_archive(path: Path) -> OfflineRun:
    run = OfflineRun(key=path.stem, archive=path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if "experiment.json" in names:
            meta = json.loads(archive.read("experiment.json"))
            run.key = meta.get("offline_id") or meta.get("experiment_key") or run.key
            run.started_at = _seconds(meta.get("start_time"))
            run.tags = list(meta.get("tags") or [])
            run.name = meta.get("name") or run.name
        for message in _messages(archive, names):
            _apply(run, message)
    return run


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float):
        return value / 1000 if value > 1e11 else float(value)
    return None


def _messages(archive: zipfile.ZipFile, names: list[str]) -> Iterator[dict[str, Any]]:
    if "messages.json" not in names:
        return
    for line in archive.read("messages.json").decode("utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def _apply(run: OfflineRun, message: dict[str, Any]) -> None:
    payload = message.get("payload") or {}
    kind = message.get("type")
    if kind == "metric_msg":
        metric = payload.get("metric") or {}
        name, value = metric.get("metricName"), metric.get("metricValue")
        if name is not None and value is not None:
            run.metrics.setdefault(name, []).append((metric.get("step"), float(value)))
    elif kind == "parameter_msg":
        param = payload.get("param") or {}
        if param.get("paramName") is not None and param.get("source") != "auto-logged":
            run.params[param["paramName"]] = param.get("paramValue")
    elif kind in {"log_other", "log_other_msg"} and payload.get("key") == "Name":
        run.name = payload.get("value", payload.get("val"))
    elif kind in {"file_upload", "file_msg"}:
        extra = payload.get("additional_params") or {}
        name = extra.get("fileName") or payload.get("fileName")
        if name:
            run.assets.append(name)

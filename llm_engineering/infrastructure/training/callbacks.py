"""Forward the Trainer's logs (loss, learning rate, DPO rewards) to the experiment tracker."""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from llm_engineering.application.ports import TrackedRun


class TrackerCallback(TrainerCallback):
    """Every numeric value the Trainer logs becomes `<stage>/<name>` at the current global step."""

    def __init__(self, run: TrackedRun, stage: str) -> None:
        self.run = run
        self.stage = stage

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any):
        if not logs:
            return
        metrics = {
            f"{self.stage}/{key}": float(value)
            for key, value in logs.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        self.run.log_metrics(metrics, step=state.global_step)

"""`python -m tools.run experiments` lists the offline Comet runs with their key metrics."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from llm_engineering.infrastructure.tracking.comet import CometTracker


def test_experiments_lists_offline_runs_with_metrics(data_dir: Path) -> None:
    tracker = CometTracker(project="tests", offline_dir=data_dir / "comet")
    with tracker.start_run("twin-sft-dpo-abc", params={"sft": {"learning_rate": 3e-4}}, tags=["sft"]) as run:
        run.log_metrics({"sft/final_loss": 1.25, "dpo/rewards/margins": 0.5}, step=3)
        run.log_metrics({"dpo/perplexity": 12.5})
    from tools.run import app

    result = CliRunner().invoke(app, ["experiments", "--json"])

    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["key"] for row in rows] == [run.key]
    assert rows[0]["name"] == "twin-sft-dpo-abc"
    assert rows[0]["metrics"] == {"sft/final_loss": 1.25, "dpo/rewards/margins": 0.5, "dpo/perplexity": 12.5}

    table = CliRunner().invoke(app, ["experiments"])
    assert table.exit_code == 0 and "sft/final_loss=1.25" in table.output

"""Bad training YAML values fail before ZenML starts, with one line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.run_configs import TrainingRunConfig
from tools.configs import load_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "training.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_config_is_valid() -> None:
    config = load_config(Path("configs/training.yaml"), TrainingRunConfig)
    assert config.parameters.training.sft.packing
    assert config.parameters.training.run_dpo


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        (
            "parameters:\n  training:\n    sft:\n      learning_rate: -1\n",
            "parameters.training.sft.learning_rate",
        ),
        ("parameters:\n  training:\n    dpo:\n      beta: 0\n", "parameters.training.dpo.beta"),
        ("parameters:\n  training:\n    sft:\n      lora: {r: 0}\n", "parameters.training.sft.lora.r"),
        ("parameters:\n  training:\n    device: tpu\n", "parameters.training.device"),
        ("parameters:\n  training:\n    sft:\n      lr: 0.1\n", "parameters.training.sft.lr"),
        ("parameters:\n  training:\n    base_model: '  '\n", "parameters.training.base_model"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, yaml_text: str, field: str) -> None:
    with pytest.raises(ConfigError, match=f"`{field}`"):
        load_config(_write(tmp_path, yaml_text), TrainingRunConfig)


def test_bad_value_through_the_cli_is_one_line(tmp_path: Path, data_dir) -> None:
    from typer.testing import CliRunner

    from tools.run import app

    path = _write(tmp_path, "parameters:\n  training:\n    sft:\n      max_length: 4\n")
    result = CliRunner().invoke(app, ["training", "--config", str(path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert "parameters.training.sft.max_length" in str(result.exception)

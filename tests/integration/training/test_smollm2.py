"""One real run: SmolLM2-135M-Instruct, a few SFT and DPO steps, merged and reloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.training.fine_tuning import fine_tune
from llm_engineering.domain.training_config import TrainingConfig
from llm_engineering.infrastructure.tracking.comet import CometTracker, list_offline_runs
from llm_engineering.infrastructure.training import build_fine_tuner
from tests.unit.training.conftest import instruct_samples, preference_samples


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_smollm2_sft_dpo_few_steps(data_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llm_engineering.domain.exceptions import ConfigError
    from llm_engineering.settings import get_settings

    tuner = build_fine_tuner(get_settings())
    try:
        tuner.resolve_base_model("smollm2")
    except ConfigError as exc:
        pytest.skip(str(exc))
    config = TrainingConfig.model_validate(
        {
            "base_model": "smollm2",
            "sft": {"max_steps": 2, "per_device_train_batch_size": 2, "max_length": 128, "save_steps": 2},
            "dpo": {"max_steps": 1, "per_device_train_batch_size": 1, "max_length": 128, "save_steps": 1},
        }
    )
    result = fine_tune(
        config,
        instruct_samples(8),
        preference_samples(2),
        tuner=tuner,
        tracker=CometTracker(project="tests", offline_dir=tmp_path / "comet"),
        registry=None,
        output_root=tmp_path / "training",
    )
    assert result.metrics["sft/global_step"] == 2 and result.metrics["dpo/global_step"] == 1
    tokenizer = AutoTokenizer.from_pretrained(result.final_weights)
    model = AutoModelForCausalLM.from_pretrained(result.final_weights)
    assert model.config.num_hidden_layers == 30  # SmolLM2-135M, merged (no adapter left)
    assert "<|im_start|>" in tokenizer.chat_template  # SmolLM2's own ChatML template, kept
    assert list_offline_runs(tmp_path / "comet")[0].metrics["sft/loss"]

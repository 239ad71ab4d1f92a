"""SFT -> DPO -> merge -> register -> reload -> generate, on a tiny Llama, with real Comet archives."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from llm_engineering.application.training.fine_tuning import Lineage, fine_tune
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.training_config import TrainingConfig
from llm_engineering.infrastructure.registry import LocalModelRegistry
from llm_engineering.infrastructure.tracking.comet import CometTracker, list_offline_runs
from llm_engineering.infrastructure.training.trainer import TrlFineTuner
from tests.unit.training.conftest import instruct_samples, preference_samples


def tiny_config(model: Path, **overrides) -> TrainingConfig:
    raw = {
        "base_model": str(model),
        "precision": "fp32",
        "sft": {
            "learning_rate": 5e-3,
            "max_steps": 6,
            "save_steps": 3,
            "per_device_train_batch_size": 4,
            "max_length": 128,
            "warmup_ratio": 0.0,
        },
        "dpo": {
            "learning_rate": 5e-3,
            "max_steps": 3,
            "save_steps": 3,
            "per_device_train_batch_size": 2,
            "max_length": 128,
            "warmup_ratio": 0.0,
        },
    }
    raw.update(overrides)
    return TrainingConfig.model_validate(raw)


def test_sft_then_dpo_is_merged_registered_tracked_and_generates(tiny_llama: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tracker = CometTracker(project="tests", offline_dir=tmp_path / "comet")
    registry = LocalModelRegistry(tmp_path / "models" / "twin")
    result = fine_tune(
        tiny_config(tiny_llama),
        instruct_samples(),
        preference_samples(),
        tuner=TrlFineTuner(tmp_path / "cache"),
        tracker=tracker,
        registry=registry,
        output_root=tmp_path / "training",
        lineage=Lineage(code_version="abc123", authors=["Ada Sample"]),
    )

    # SFT learned (loss on answers only went down), DPO ran on top of it
    assert result.metrics["sft/final_loss"] < result.metrics["sft/first_loss"]
    assert result.metrics["sft/global_step"] == 6
    assert result.dpo is not None and result.metrics["dpo/global_step"] == 3

    # the DPO model is registered with its card
    assert result.version is not None
    version = registry.get(result.version.version)
    assert version.card.stage_of_training == ["sft", "dpo"]
    assert set(version.card.datasets) == {"instruct_train", "preference_train"}
    assert version.card.code_version == "abc123"
    assert version.card.related_weights["sft"] == str(result.sft.weights_dir)
    assert version.card.experiment_key == result.experiment_key

    # plain transformers folder: reloads without peft, keeps the chat template, generates
    tokenizer = AutoTokenizer.from_pretrained(version.weights_dir)
    model = AutoModelForCausalLM.from_pretrained(version.weights_dir)
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert "<|im_start|>" in tokenizer.chat_template
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Write a paragraph about LoRA adapters."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    output = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert output.shape[1] > prompt["input_ids"].shape[1]

    # the offline Comet archive holds the run: params, loss curve, DPO reward curves, lineage
    runs = list_offline_runs(tmp_path / "comet")
    assert [run.key for run in runs] == [result.experiment_key]
    run = runs[0]
    assert len(run.metrics["sft/loss"]) == 6
    assert "dpo/rewards/margins" in run.metrics and "dpo/rewards/chosen" in run.metrics
    assert run.params["sft.learning_rate"] == 5e-3
    assert run.params["code_version"] == "abc123"
    assert run.params["datasets.instruct_train"].startswith("sha256:")
    with zipfile.ZipFile(run.archive) as archive:
        assert "messages.json" in archive.namelist()

    # a re-run of the same config and data reuses the finished stages instead of training again
    again = fine_tune(
        tiny_config(tiny_llama, register_version=False),
        instruct_samples(),
        preference_samples(),
        tuner=TrlFineTuner(tmp_path / "cache"),
        tracker=tracker,
        registry=None,
        output_root=tmp_path / "training",
    )
    assert again.run_dir == result.run_dir
    assert again.metrics == result.metrics  # read back from the stage reports, not retrained
    assert again.version is None


def test_missing_model_path_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        TrlFineTuner(tmp_path).resolve_base_model(str(tmp_path / "no-such-model"))


def test_folder_without_config_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"no config\.json"):
        TrlFineTuner(tmp_path).resolve_base_model(str(tmp_path / "empty"))


def test_no_instruction_samples_is_one_clear_error(tiny_llama: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no instruction samples"):
        fine_tune(
            tiny_config(tiny_llama),
            [],
            None,
            tuner=TrlFineTuner(tmp_path),
            tracker=CometTracker(project="tests", offline_dir=tmp_path / "comet"),
            registry=None,
            output_root=tmp_path / "training",
        )

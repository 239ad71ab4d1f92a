"""LoRA SFT and DPO with TRL, merged into full weights: one function per stage.

`train_sft` and `train_dpo` are what a ZenML step, a SageMaker entry point and a test all call.
Each stage writes into `<output_dir>/<stage>/`:
  checkpoints/checkpoint-N/  the Trainer's checkpoints (a killed run resumes from the last one)
  merged/                    the LoRA merged into full weights + tokenizer with its chat template,
                             written atomically once training ends (its presence = stage done)
The chat template is the base model's own: TRL renders prompts and answers with it, evaluation
and inference render with the same tokenizer saved next to the weights.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.application.ports import InstructExample, PreferenceExample, StageResult, TrackedRun
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.training_config import DPOStageConfig, SFTStageConfig, StageConfig, TrainingConfig
from llm_engineering.infrastructure.training.runtime import Runtime, resolve_runtime

MERGED = "merged"
CHECKPOINTS = "checkpoints"
STAGE_REPORT = "stage_report.json"


def train_sft(
    config: TrainingConfig,
    model_dir: Path,
    data: Sequence[InstructExample],
    run: TrackedRun,
    output_dir: Path,
) -> StageResult:
    """LoRA SFT on (instruction, answer) pairs, loss on the answers only; returns merged weights."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    stage_dir = output_dir / "sft"
    done = _finished(stage_dir)
    if done is not None:
        return done
    if not data:
        raise ConfigError("the SFT dataset is empty: generate instruction datasets first")
    runtime = resolve_runtime(config.device, config.precision)
    tokenizer, model = _load(model_dir, runtime)
    rows = [
        {
            "prompt": [{"role": "user", "content": sample.instruction}],
            "completion": [{"role": "assistant", "content": sample.answer}],
        }
        for sample in data
    ]
    stage = config.sft
    args = SFTConfig(
        **_common_args(config, stage, runtime, stage_dir),
        max_length=stage.max_length,
        packing=stage.packing,
        completion_only_loss=True,
        dataset_num_proc=None,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=_lora(stage),
        callbacks=_callbacks(run, "sft"),
    )
    return _train_and_merge(trainer, tokenizer, stage_dir, run, "sft")


def train_dpo(
    config: TrainingConfig,
    model_dir: Path,
    data: Sequence[PreferenceExample],
    run: TrackedRun,
    output_dir: Path,
) -> StageResult:
    """LoRA DPO on (prompt, chosen, rejected); the reference model is `model_dir` (adapter off)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    stage_dir = output_dir / "dpo"
    done = _finished(stage_dir)
    if done is not None:
        return done
    if not data:
        raise ConfigError("the DPO dataset is empty: generate preference datasets first")
    runtime = resolve_runtime(config.device, config.precision)
    tokenizer, model = _load(model_dir, runtime)
    rows = [
        {
            "prompt": [{"role": "user", "content": sample.prompt}],
            "chosen": [{"role": "assistant", "content": sample.chosen}],
            "rejected": [{"role": "assistant", "content": sample.rejected}],
        }
        for sample in data
    ]
    stage = config.dpo
    args = DPOConfig(
        **_common_args(config, stage, runtime, stage_dir),
        beta=stage.beta,
        max_length=stage.max_length,
    )
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=_lora(stage),
        callbacks=_callbacks(run, "dpo"),
    )
    return _train_and_merge(trainer, tokenizer, stage_dir, run, "dpo")


# --- shared -------------------------------------------------------------------------------------


def _load(model_dir: Path, runtime: Runtime) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (model_dir / "config.json").exists():
        raise ConfigError(f"model folder {model_dir} has no config.json: pass a transformers model folder")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.chat_template is None:
        raise ConfigError(f"tokenizer in {model_dir} has no chat template: use an instruct/chat model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # Weights stay fp32 (LoRA's optimiser state too); bf16 is autocast by the Trainer.
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False
    return tokenizer, model


def _common_args(config: TrainingConfig, stage: StageConfig, runtime: Runtime, stage_dir: Path) -> dict:
    return {
        "output_dir": str(stage_dir / CHECKPOINTS),
        "learning_rate": stage.learning_rate,
        "num_train_epochs": stage.num_train_epochs,
        "max_steps": stage.max_steps,
        "per_device_train_batch_size": stage.per_device_train_batch_size,
        "gradient_accumulation_steps": stage.gradient_accumulation_steps,
        "warmup_steps": stage.warmup_ratio,  # transformers 5: a float < 1 is a ratio
        "lr_scheduler_type": stage.lr_scheduler_type,
        "weight_decay": stage.weight_decay,
        "logging_steps": stage.logging_steps,
        "save_strategy": "steps",
        "save_steps": stage.save_steps,
        "save_total_limit": stage.save_total_limit,
        "seed": config.seed,
        "data_seed": config.seed,
        "use_cpu": runtime.use_cpu,
        "bf16": runtime.bf16,
        "fp16": False,
        # Recomputing activations trades speed for memory: a 135M model does not need it.
        "activation_checkpointing": False,
        "report_to": "none",
        "disable_tqdm": False,
        "dataloader_num_workers": 0,
        "include_num_input_tokens_seen": "non_padding",
    }


def _lora(stage: SFTStageConfig | DPOStageConfig | StageConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=stage.lora.r,
        lora_alpha=stage.lora.alpha,
        lora_dropout=stage.lora.dropout,
        target_modules=list(stage.lora.target_modules),
        task_type="CAUSAL_LM",
    )


def _callbacks(run: TrackedRun, stage: str) -> list[Any]:
    from llm_engineering.infrastructure.training.callbacks import TrackerCallback

    return [TrackerCallback(run, stage)]


def last_checkpoint(checkpoints_dir: Path) -> Path | None:
    """The newest checkpoint that was written completely (a kill during a save leaves a partial one)."""
    if not checkpoints_dir.is_dir():
        return None
    candidates = []
    for path in checkpoints_dir.glob("checkpoint-*"):
        step = path.name.removeprefix("checkpoint-")
        if step.isdigit() and (path / "trainer_state.json").exists() and _has_weights(path):
            candidates.append((int(step), path))
    return max(candidates)[1] if candidates else None


def _has_weights(path: Path) -> bool:
    return any(path.glob("*.safetensors")) or any(path.glob("*.bin"))


def _train_and_merge(
    trainer: Any, tokenizer: Any, stage_dir: Path, run: TrackedRun, stage: str
) -> StageResult:
    checkpoint = last_checkpoint(stage_dir / CHECKPOINTS)
    resumed_from = int(checkpoint.name.removeprefix("checkpoint-")) if checkpoint else None
    if checkpoint is not None:
        logger.info(f"{stage}: resuming from {checkpoint.name}")
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = time.perf_counter() - started
    state = trainer.state
    metrics = {f"{stage}/{k}": float(v) for k, v in result.metrics.items() if isinstance(v, int | float)}
    losses = [entry["loss"] for entry in state.log_history if "loss" in entry]
    if losses:
        metrics[f"{stage}/first_loss"] = float(losses[0])
        metrics[f"{stage}/final_loss"] = float(losses[-1])
    tokens = float(getattr(state, "num_input_tokens_seen", 0) or 0)
    if tokens and seconds > 0 and resumed_from is None:  # a resumed run's count includes earlier steps
        metrics[f"{stage}/train_tokens_per_s"] = tokens / seconds
    metrics[f"{stage}/global_step"] = float(state.global_step)
    if resumed_from is not None:
        metrics[f"{stage}/resumed_from_step"] = float(resumed_from)
    run.log_metrics(metrics)
    report = {"metrics": metrics, "resumed_from_step": resumed_from, "log_history": state.log_history}
    merged = _merge(trainer, tokenizer, stage_dir, report)
    logger.info(f"{stage}: merged weights in {merged}")
    return StageResult(weights_dir=merged, metrics=metrics, resumed_from_step=resumed_from)


def _merge(trainer: Any, tokenizer: Any, stage_dir: Path, report: dict[str, Any]) -> Path:
    """Merge the LoRA into full fp32 weights; the folder appears complete (report last) or not at all."""
    import torch

    model = trainer.model.merge_and_unload()
    model = model.to(torch.float32)
    model.config.use_cache = True
    partial = stage_dir / f"{MERGED}.partial"
    final = stage_dir / MERGED
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    (partial / STAGE_REPORT).write_text(json.dumps(report, indent=2), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    return final


def _finished(stage_dir: Path) -> StageResult | None:
    merged = stage_dir / MERGED
    report = merged / STAGE_REPORT
    if not report.exists():
        return None
    data = json.loads(report.read_text(encoding="utf-8"))
    logger.info(f"{stage_dir.name}: already trained, reusing {merged}")
    return StageResult(weights_dir=merged, metrics=data.get("metrics", {}), resumed_from_step=None)


class TrlFineTuner:
    """The `FineTuner` port: TRL + peft on this machine (CPU or CUDA)."""

    def __init__(self, cache_dir: Path, base_gguf: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self.base_gguf = base_gguf

    def resolve_base_model(self, name: str) -> Path:
        from llm_engineering.infrastructure.training.models import resolve_base_model

        gguf = self.base_gguf or self.cache_dir / "missing.gguf"
        return resolve_base_model(name, gguf_path=gguf, cache_dir=self.cache_dir)

    def train_sft(
        self,
        config: TrainingConfig,
        model_dir: Path,
        data: Sequence[InstructExample],
        run: TrackedRun,
        output_dir: Path,
    ) -> StageResult:
        return train_sft(config, model_dir, data, run, output_dir)

    def train_dpo(
        self,
        config: TrainingConfig,
        model_dir: Path,
        data: Sequence[PreferenceExample],
        run: TrackedRun,
        output_dir: Path,
    ) -> StageResult:
        return train_dpo(config, model_dir, data, run, output_dir)

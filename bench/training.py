"""Training benchmark on the handbook corpus; prints one JSON line on stdout.

(a) ratio: SFT training tokens/s (non-padding tokens the model trained on, per second of
    `trainer.train()`) of our configuration (configs/training.yaml: padding-free packing, no
    activation checkpointing, this CPU's best precision) against TRL's `SFTTrainer` with its own
    defaults (batch 8, padded to the longest, activation checkpointing, bf16 autocast), both with
    the same LoRA, on SmolLM2-135M-Instruct, the same passages and the same number of steps.
    Our configuration is also run in bf16, to show whether this CPU's bf16 pays (`precision: auto`).
(b) time_to_twin_s: datasets (instruction + preference), training (SFT + DPO) and evaluation,
    from the latest ZenML runs of those pipelines (`--full` runs the whole chain first, with the
    default configs; that takes far longer than this bench's ~10 minutes on 2 cores).
(c) ppl_ratio: the latest evaluation's held-out perplexity, twin (DPO) / base; goal <= 0.8.

Usage: python bench/training.py [--steps 2] [--full] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from loguru import logger  # noqa: E402

from llm_engineering.domain.run_configs import TrainingRunConfig  # noqa: E402
from llm_engineering.domain.training_config import TrainingConfig  # noqa: E402
from llm_engineering.settings import get_settings  # noqa: E402
from tools.configs import load_config  # noqa: E402

DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "datasets" / "handbook-articles"
CHAIN = [
    ("datasets_instruct", ["generate-datasets", "--config", "configs/generate_instruct_datasets.yaml"]),
    ("datasets_preference", ["generate-datasets", "--config", "configs/generate_preference_datasets.yaml"]),
    ("training", ["training", "--config", "configs/training.yaml"]),
    ("evaluation", ["evaluation", "--config", "configs/evaluating.yaml"]),
]
PIPELINES = {"generate_datasets": 2, "training": 1, "evaluating": 1}


@dataclass
class Passage:
    instruction: str
    answer: str


def handbook_passages(corpus: Path, limit: int = 400) -> list[Passage]:
    """Article paragraphs merged into passages of ~60-300 words, navigation lines dropped."""
    articles = json.loads((corpus / "ArticleDocument.json").read_text(encoding="utf-8"))
    passages: list[Passage] = []
    for article in articles:
        content = article["content"]
        title = (content.get("Title") or "this article").strip()
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", content.get("Content") or "")]
        paragraphs = [p for p in paragraphs if len(p.split()) >= 12 and not p.lstrip().startswith(("*", "["))]
        current: list[str] = []
        for paragraph in paragraphs:
            current.append(paragraph)
            words = sum(len(p.split()) for p in current)
            if words >= 60:
                text = "\n\n".join(current)
                passages.append(Passage(f'Write the part of "{title}" that starts with: {text[:60]}', text))
                current = []
    # long and short passages interleaved, as real data comes
    return passages[:limit]


def _stage_config(steps: int, precision: str) -> TrainingConfig:
    config = load_config(REPO_ROOT / "configs" / "training.yaml", TrainingRunConfig).parameters.training
    sft = config.sft.model_copy(update={"max_steps": steps, "save_steps": 10_000, "logging_steps": 1})
    return config.model_copy(update={"sft": sft, "precision": precision, "base_model": "smollm2"})


class _Quiet:
    key = "bench"

    def log_params(self, params: dict[str, Any]) -> None: ...
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...
    def log_text(self, name: str, text: str) -> None: ...
    def end(self) -> None: ...
    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc_info: object) -> None: ...


def ours(base: Path, passages: list[Passage], steps: int, precision: str) -> dict[str, float]:
    from llm_engineering.infrastructure.training.trainer import train_sft

    with tempfile.TemporaryDirectory(prefix="bench-sft-") as out:
        result = train_sft(_stage_config(steps, precision), base, passages, _Quiet(), Path(out))
    tokens, seconds = result.metrics["sft/num_input_tokens_seen"], result.metrics["sft/train_runtime"]
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def trl_defaults(base: Path, passages: list[Passage], steps: int) -> dict[str, float]:
    """TRL's SFTTrainer as its docs start: defaults, plus what running here needs and our LoRA."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from llm_engineering.infrastructure.training.trainer import _lora

    config = _stage_config(steps, "fp32")
    rows = [
        {
            "prompt": [{"role": "user", "content": p.instruction}],
            "completion": [{"role": "assistant", "content": p.answer}],
        }
        for p in passages
    ]
    with tempfile.TemporaryDirectory(prefix="bench-trl-") as out:
        args = SFTConfig(
            output_dir=out,
            max_steps=steps,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            seed=config.seed,
            include_num_input_tokens_seen="non_padding",  # measurement only
        )
        trainer = SFTTrainer(
            model=AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=AutoTokenizer.from_pretrained(base),
            peft_config=_lora(config.sft),
        )
        result = trainer.train()
        tokens = float(trainer.state.num_input_tokens_seen)
        seconds = float(result.metrics["train_runtime"])
    return {
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "bf16": bool(args.bf16),
        "activation_checkpointing": bool(args.activation_checkpointing),
        "batch": args.per_device_train_batch_size,
    }


def latest_chain_seconds() -> dict[str, Any]:
    """Wall seconds of the latest successful runs of the chain's pipelines (ZenML's own timestamps)."""
    from zenml.client import Client

    seconds: dict[str, float] = {}
    for name, count in PIPELINES.items():
        runs = (
            Client()
            .list_pipeline_runs(pipeline_name=name, sort_by="desc:created", size=count, status="completed")
            .items
        )
        if len(runs) < count:
            return {"time_to_twin_s": None, "reason": f"no completed {name} run yet: run the chain (--full)"}
        for i, run in enumerate(runs):
            started, ended = run.start_time, run.end_time
            seconds[f"{name}{'' if count == 1 else f'_{i}'}"] = (ended - started).total_seconds()
    return {"time_to_twin_s": round(sum(seconds.values()), 1), "time_to_twin_parts_s": seconds}


def latest_ppl_ratio() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tools.run", "evaluate", "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        return {
            "ppl_ratio": None,
            "ppl_reason": out.stderr.strip().splitlines()[-1] if out.stderr else "none",
        }
    models = json.loads(out.stdout)["models"]
    base, twin = models.get("base", {}).get("perplexity"), models.get("dpo", {}).get("perplexity")
    if not base or not twin:
        return {"ppl_ratio": None, "ppl_reason": "the evaluation has no base/dpo perplexity"}
    return {"ppl_ratio": round(twin / base, 3), "ppl_base": base, "ppl_twin": twin}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--full", action="store_true", help="run datasets, training, evaluation first")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")

    from tools.zenml_env import prepare_zenml

    settings = get_settings()
    prepare_zenml(settings)
    chain: dict[str, float] = {}
    if args.full:
        for name, command in CHAIN:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tools.run", *command], cwd=REPO_ROOT, check=True)
            chain[name] = round(time.perf_counter() - started, 1)

    from llm_engineering.infrastructure.training import build_fine_tuner

    base = build_fine_tuner(settings).resolve_base_model("smollm2")
    passages = handbook_passages(args.corpus)
    baseline = trl_defaults(base, passages, args.steps)
    ours_fp32 = ours(base, passages, args.steps, "fp32")
    ours_bf16 = ours(base, passages, args.steps, "bf16")
    from llm_engineering.infrastructure.training.runtime import resolve_runtime

    auto_bf16 = resolve_runtime("auto", "auto").bf16
    ours_auto = ours_bf16 if auto_bf16 else ours_fp32
    report: dict[str, Any] = {
        "steps": args.steps,
        "passages": len(passages),
        "trl_defaults_tokens_per_s": round(baseline["tokens_per_s"], 1),
        "ours_tokens_per_s": round(ours_auto["tokens_per_s"], 1),
        "ratio": round(ours_auto["tokens_per_s"] / baseline["tokens_per_s"], 2),
        "ours_precision": "bf16" if auto_bf16 else "fp32",
        "ours_fp32_tokens_per_s": round(ours_fp32["tokens_per_s"], 1),
        "ours_bf16_tokens_per_s": round(ours_bf16["tokens_per_s"], 1),
        "cpu_bf16_speedup": round(ours_bf16["tokens_per_s"] / ours_fp32["tokens_per_s"], 2),
        "trl_defaults": baseline,
        **latest_chain_seconds(),
        **latest_ppl_ratio(),
    }
    if chain:
        report["time_to_twin_wall_s"] = round(sum(chain.values()), 1)
        report["chain_wall_s"] = chain
    print(json.dumps(report))


if __name__ == "__main__":
    main()

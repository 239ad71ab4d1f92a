"""The model card written beside the weights: a Hugging Face style README.md, readable on the Hub."""

from __future__ import annotations

import json

from llm_engineering.domain.training import TWIN_MODEL_NAME, ModelVersion


def render_model_card(version: ModelVersion) -> str:
    card = version.card
    stages = " -> ".join(card.stage_of_training) or "none"
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-generation",
        f"base_model: {json.dumps(card.base_model)}",
        "tags: [llm-twin, lora, " + ", ".join(card.stage_of_training or ["untrained"]) + "]",
        "---",
        "",
        f"# {TWIN_MODEL_NAME} version {version.version}",
        "",
        "An LLM Twin: a model fine-tuned to write like "
        + (", ".join(card.authors) if card.authors else "its author(s)")
        + ".",
        "",
        f"- **Base model:** `{card.base_model}`",
        f"- **Training stages:** {stages}",
        f"- **Stage in the registry:** {version.stage or 'none'}",
        f"- **Code version:** `{card.code_version}`",
        f"- **Created:** {card.created_at.isoformat(timespec='seconds')}",
    ]
    if card.experiment_key:
        lines.append(f"- **Experiment:** `{card.experiment_key}`")
    lines += ["", "## Data lineage", ""]
    if card.datasets:
        lines += ["| dataset | version |", "| --- | --- |"]
        lines += [f"| {name} | `{ref}` |" for name, ref in sorted(card.datasets.items())]
    else:
        lines.append("No dataset recorded.")
    lines += ["", "## Hyper-parameters", ""]
    if card.hyperparameters:
        lines += ["```json", json.dumps(card.hyperparameters, indent=2, sort_keys=True, default=str), "```"]
    else:
        lines.append("None recorded.")
    lines += ["", "## Metrics", ""]
    if card.metrics:
        lines += ["| metric | value |", "| --- | ---: |"]
        lines += [f"| {name} | {value:.4f} |" for name, value in sorted(card.metrics.items())]
    else:
        lines.append("Not evaluated yet.")
    lines += [
        "",
        "## Prompt format",
        "",
        "The tokenizer's own chat template (ChatML for SmolLM2), the same in training, evaluation",
        "and inference.",
        "",
    ]
    return "\n".join(lines)

"""Datasets out of the ZenML store: JSONL files, one per dataset and split, and the Hugging Face Hub."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr

from llm_engineering.domain.datasets import DatasetKind, InstructDatasets, PreferenceDatasets


def write_jsonl(datasets: InstructDatasets | PreferenceDatasets, out_dir: Path) -> dict[str, int]:
    """`<prefix>_train.jsonl` and `<prefix>_test.jsonl` in `out_dir`; returns {file name: rows}."""
    kind = datasets.metadata.kind
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for split, samples in datasets.splits().items():
        name = f"{DatasetKind(kind).file_prefix}_{split}.jsonl"
        partial = out_dir / f".{name}.partial"
        with partial.open("w", encoding="utf-8") as handle:
            for sample in samples:
                handle.write(json.dumps(sample.model_dump(mode="json"), ensure_ascii=False) + "\n")
        partial.replace(out_dir / name)
        written[name] = len(samples)
    return written


def push_to_hub(
    datasets: InstructDatasets | PreferenceDatasets, repo_id: str, token: SecretStr
) -> str:  # pragma: no cover - needs the Hugging Face Hub and a token: untestable offline
    """Push both splits as one Hub dataset (`datasets`' own `push_to_hub`); returns the repo id.

    Untested here: this machine cannot reach the Hub. The token is passed, never logged.
    """
    from datasets import Dataset, DatasetDict

    dataset_dict = DatasetDict(
        {
            split: Dataset.from_list([s.model_dump(mode="json") for s in samples])
            for split, samples in datasets.splits().items()
            if samples
        }
    )
    dataset_dict.push_to_hub(repo_id, token=token.get_secret_value(), private=True)
    return repo_id

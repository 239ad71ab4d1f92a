"""A tiny Llama (hidden 128, 2 layers) with a BPE tokenizer trained on the fly and ChatML template."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.tiny_llama import save_tiny_llama

TOPICS = [
    "LoRA adapters",
    "vector databases",
    "feature stores",
    "DPO training",
    "RAG pipelines",
    "tokenizers",
]


@dataclass
class Instruct:
    instruction: str
    answer: str
    author_full_name: str = "Ada Sample"


@dataclass
class Preference:
    prompt: str
    chosen: str
    rejected: str
    author_full_name: str = "Ada Sample"


def instruct_samples(n: int = 24) -> list[Instruct]:
    return [
        Instruct(
            instruction=f"Write a paragraph about {TOPICS[i % len(TOPICS)]}.",
            answer=f"Honestly, {TOPICS[i % len(TOPICS)]} are simple once shipped. Measure, then tune. #{i}",
        )
        for i in range(n)
    ]


def preference_samples(n: int = 8) -> list[Preference]:
    return [
        Preference(
            prompt=f"Write a paragraph about {TOPICS[i % len(TOPICS)]}.",
            chosen=f"Honestly, {TOPICS[i % len(TOPICS)]} are simple once you ship them. Measure first.",
            rejected=f"As an AI language model, I think {TOPICS[i % len(TOPICS)]} are a complex topic.",
        )
        for i in range(n)
    ]


def build_tiny_llama(folder: Path) -> Path:
    """Save a randomly initialised 2-layer Llama and its freshly trained BPE tokenizer in `folder`."""
    corpus = [s.instruction + " " + s.answer for s in instruct_samples(60)]
    corpus += [p.rejected for p in preference_samples(12)]
    return save_tiny_llama(folder, corpus * 4, vocab_size=512)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))

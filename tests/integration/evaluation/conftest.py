"""Two synthetic authors with distinct styles, and a tiny Llama before and after training on one.

The tiny model (2 layers, hidden 128, a BPE tokenizer trained on the fly, ChatML template) is
built in the test; "trained" is the same model after 20 steps on the training answers,
through the chat template, as SFT does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.tiny_llama import save_tiny_llama

TOPICS = [
    *["LoRA adapters", "vector databases", "feature stores", "DPO training", "RAG pipelines", "tokenizers"],
    *["embeddings", "quantisation", "chunking", "rerankers", "prompt templates", "model registries"],
]


@dataclass
class Sample:
    instruction: str
    answer: str
    author_full_name: str
    source_document_id: str = ""


def ada(topic: str, i: int) -> Sample:
    return Sample(
        f"Write a short post about {topic}.",
        f"Honestly, {topic} are simple once you ship them. Measure first, then tune. Keep it small. #{i}",
        "Ada Sample",
    )


def bob(topic: str, i: int) -> Sample:
    return Sample(
        f"Write a short post about {topic}.",
        f"In summary, a rigorous formal analysis of {topic} demonstrates considerable theoretical "
        f"complexity, which necessitates careful methodological consideration. ({i})",
        "Bob Formal",
    )


def split() -> tuple[list[Sample], list[Sample]]:
    """(train, test): topics 0-7 train, 8-11 test, for both authors."""
    train = [f(t, i) for i, t in enumerate(TOPICS[:8]) for f in (ada, bob)]
    test = [f(t, i) for i, t in enumerate(TOPICS[8:], start=8) for f in (ada, bob)]
    return train, test


def build_tiny_llama(folder: Path) -> Path:
    train, test = split()
    return save_tiny_llama(folder, [s.instruction + " " + s.answer for s in train + test] * 4, vocab_size=600)


def train_copy(source: Path, target: Path, samples: list[Sample], steps: int = 20) -> Path:
    """`source` trained on `samples` rendered through its chat template (full-sequence loss)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": s.instruction}, {"role": "assistant", "content": s.answer}],
            tokenize=False,
        )
        for s in samples
    ]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"base": untrained, "twin": trained on both authors' training answers}."""
    root = tmp_path_factory.mktemp("tiny-eval-models")
    base = build_tiny_llama(root / "base")
    return {"base": base, "twin": train_copy(base, root / "twin", split()[0])}

"""A real, tiny chat model built in the test: a 2-layer Llama with random weights, a byte-level BPE
tokenizer trained on the fly and a ChatML chat template, saved as a transformers folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.tiny_llama import chatml_tokenizer, tiny_llama_config

CORPUS = [
    "Vector databases store embeddings for retrieval augmented generation.",
    "LoRA fine-tunes a small set of adapter weights on top of a frozen model.",
    "The twin answers in the voice of the person whose articles it read.",
    "Crawlers collect articles, posts and code into the data warehouse.",
] * 20


def build_tiny_model(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaForCausalLM

    tokenizer = chatml_tokenizer(CORPUS, vocab_size=400)
    torch.manual_seed(seed)
    config = tiny_llama_config(tokenizer, hidden_size=64, intermediate_size=128, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        # sharper logits make the greedy answer varied text rather than one repeated token, and
        # the end-of-turn token is never likely: answers run to max_tokens or a stop string
        model.lm_head.weight.mul_(40.0)
        model.lm_head.weight[tokenizer.eos_token_id] = 0.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_hf(tiny_model_dir: Path) -> tuple[Any, Any]:
    """The same model and tokenizer, loaded by plain transformers (the reference)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), AutoTokenizer.from_pretrained(
        tiny_model_dir
    )


def warm_tiny_llm(model_dir: Path, **config: Any) -> Any:
    """A warmed-up float32 `LocalLLM` over the tiny model on one CPU thread, `config` on top."""
    from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig

    settings: dict[str, Any] = {"device": "cpu", "dtype": "float32", "threads": 1} | config
    llm = LocalLLM(LocalLLMConfig(model_path=model_dir, **settings))
    llm.warm_up()
    return llm


@pytest.fixture(scope="session")
def local_llm(tiny_model_dir: Path) -> Iterator[Any]:
    from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig

    config = LocalLLMConfig(
        model_path=tiny_model_dir, device="cpu", dtype="float32", max_batch=4, max_seq_len=256
    )
    llm = LocalLLM(config)  # float32: its greedy answers must equal model.generate's
    llm.warm_up()
    yield llm
    llm.close()

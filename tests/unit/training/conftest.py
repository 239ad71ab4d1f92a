"""A tiny Llama (hidden 128, 2 layers) with a BPE tokenizer trained on the fly and ChatML template."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

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
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = [s.instruction + " " + s.answer for s in instruct_samples(60)]
    corpus += [p.rejected for p in preference_samples(12)]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<unk>", "<|im_start|>", "<|im_end|>", "<pad>"]
    tok.train_from_iterator(
        corpus * 4,
        trainers.BpeTrainer(
            vocab_size=512, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
    )
    tokenizer.chat_template = CHATML
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))

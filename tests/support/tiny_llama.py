"""Tiny chat models built in the tests: a byte-level BPE tokenizer trained on the fly with a ChatML
template, and a randomly initialised 2-layer Llama over it. Real transformers code paths, seconds
to build, nothing downloaded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def chatml_tokenizer(corpus: Sequence[str], *, vocab_size: int, pad: bool = False) -> Any:
    """A `PreTrainedTokenizerFast` trained on `corpus`; <|im_start|> is BOS, <|im_end|> EOS."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<|im_start|>", "<|im_end|>", *(["<pad>"] if pad else [])]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        **({"pad_token": "<pad>"} if pad else {}),
    )
    tokenizer.chat_template = CHATML
    return tokenizer


def tiny_llama_config(tokenizer: Any, **overrides: Any) -> Any:
    """2 layers, hidden 128, 4 heads over 2 KV heads (GQA), tied embeddings; `overrides` win."""
    from transformers import LlamaConfig

    fields: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "tie_word_embeddings": True,
    }
    fields.update(overrides)
    return LlamaConfig(**fields)


def save_tiny_llama(folder: Path, corpus: Sequence[str], *, vocab_size: int, seed: int = 0) -> Path:
    """A padded-tokenizer tiny Llama saved as a transformers folder (for training and evaluation)."""
    import torch
    from transformers import LlamaForCausalLM

    tokenizer = chatml_tokenizer(corpus, vocab_size=vocab_size, pad=True)
    torch.manual_seed(seed)
    LlamaForCausalLM(tiny_llama_config(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder

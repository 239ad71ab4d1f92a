"""The lean decoder's forward pass against transformers' own, on the real tiny GQA Llama (4 query
heads over 2 KV heads): prompts longer than one prefill attention block, and batched decode steps
over rows of different lengths, before and after a slot is compacted away."""

from __future__ import annotations

from typing import Any

import pytest


def hf_last_logits(model: Any, ids: list[int]) -> Any:
    import torch

    with torch.inference_mode():
        return model(torch.tensor([ids])).logits[0, -1]


def random_ids(count: int, vocab: int, seed: int) -> list[int]:
    import torch

    generator = torch.Generator().manual_seed(seed)
    return torch.randint(3, vocab, (count,), generator=generator).tolist()


@pytest.fixture
def decoder(tiny_hf: tuple[Any, Any]) -> Any:
    from llm_engineering.infrastructure.llm.engine import LlamaDecoder

    model, _ = tiny_hf
    assert model.config.num_key_value_heads < model.config.num_attention_heads  # GQA is exercised
    return LlamaDecoder(model, max_batch=3, max_seq_len=512)


@pytest.mark.parametrize("length", [1, 5, 128, 129, 300])
def test_prefill_logits_equal_transformers_across_attention_blocks(
    decoder: Any, tiny_hf: tuple[Any, Any], length: int
) -> None:
    import torch

    model, _ = tiny_hf
    assert decoder.PREFILL_BLOCK == 128  # 129 and 300 tokens take two and three query blocks
    ids = random_ids(length, model.config.vocab_size, seed=length)
    with torch.inference_mode():
        ours = decoder.prefill(1, ids)
    torch.testing.assert_close(ours, hf_last_logits(model, ids), rtol=1e-4, atol=1e-4)


def test_batched_decode_rows_of_different_lengths_equal_transformers(
    decoder: Any, tiny_hf: tuple[Any, Any]
) -> None:
    """Three rows at positions 7, 140 and 299 decode one token each in one step; then row 0 is
    dropped, row 2 moved into its slot, and the next step still matches for both survivors."""
    import torch

    model, _ = tiny_hf
    vocab = model.config.vocab_size
    prompts = [random_ids(n, vocab, seed=n) for n in (7, 140, 299)]
    nxt = [random_ids(2, vocab, seed=1000 + i) for i in range(3)]
    with torch.inference_mode():
        for slot, ids in enumerate(prompts):
            decoder.prefill(slot, ids)
        pos = torch.tensor([len(p) for p in prompts])
        logits = decoder.decode(torch.tensor([n[0] for n in nxt]), pos, int(pos.max()) + 1)
        for row, (ids, new) in enumerate(zip(prompts, nxt, strict=True)):
            expected = hf_last_logits(model, [*ids, new[0]])
            torch.testing.assert_close(logits[row], expected, rtol=1e-4, atol=1e-4)

        decoder.move_slot(2, 0, len(prompts[2]) + 1)  # compaction: slot 2 takes slot 0's place
        survivors = [2, 1]
        pos = torch.tensor([len(prompts[i]) + 1 for i in survivors])
        logits = decoder.decode(torch.tensor([nxt[i][1] for i in survivors]), pos, int(pos.max()) + 1)
    for row, i in enumerate(survivors):
        expected = hf_last_logits(model, [*prompts[i], *nxt[i]])
        torch.testing.assert_close(logits[row], expected, rtol=1e-4, atol=1e-4)

"""The prefix cache: a prompt that opens with a cached prefix is prefilled from there on, with the
same logits and the same answers as without it; the cache keeps exact prefixes, least recently
used out first, within its byte budget. On the real tiny GQA Llama built in the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llm_engineering.domain.llm import ChatMessage, GenerationParams
from tests.unit.llm.conftest import warm_tiny_llm
from tests.unit.llm.test_decoder import decoder, hf_last_logits, random_ids  # noqa: F401


@pytest.mark.parametrize("start", [1, 60, 128, 200, 299])
def test_prefill_from_a_loaded_prefix_equals_the_whole_prompts(
    decoder: Any,  # noqa: F811
    tiny_hf: tuple[Any, Any],
    start: int,
) -> None:
    """Loaded into another slot, a saved prefix plus the rest of the prompt gives transformers'
    logits (query blocks that start mid-prompt included), and the next decode step agrees too."""
    import torch

    model, _ = tiny_hf
    ids = random_ids(300, model.config.vocab_size, seed=start)
    with torch.inference_mode():
        decoder.prefill(0, ids[:start] + random_ids(40, model.config.vocab_size, seed=99))
        prefix = decoder.save_prefix(0, start)
        assert prefix.length == start and prefix.keys.shape[0] == len(decoder.layers)
        decoder.load_prefix(2, prefix)
        ours = decoder.prefill(2, ids, start)
        torch.testing.assert_close(ours, hf_last_logits(model, ids), rtol=1e-4, atol=1e-4)
        nxt = int(ours.argmax())
        step = decoder.decode(torch.tensor([0, 0, nxt]), torch.tensor([0, 0, len(ids)]), len(ids) + 1)[2]
    torch.testing.assert_close(step, hf_last_logits(model, [*ids, nxt]), rtol=1e-4, atol=1e-4)


def test_prefill_start_must_leave_a_position_to_compute(decoder: Any) -> None:  # noqa: F811
    with pytest.raises(ValueError, match="prefill start 5"):
        decoder.prefill(0, [3, 4, 5, 6, 7], 5)


def kv(length: int, width: int = 4) -> Any:
    import torch

    from llm_engineering.infrastructure.llm.prefix_cache import PrefixKV

    return PrefixKV(keys=torch.zeros(2, 1, length, width), values=torch.zeros(2, 1, length, width))


def test_longest_cached_opening_wins_and_never_the_whole_prompt() -> None:
    from llm_engineering.infrastructure.llm.prefix_cache import PrefixCache

    cache = PrefixCache(max_bytes=10**6)
    cache.add([1, 2], kv(2))
    cache.add([1, 2, 3, 4], kv(4))
    cache.add([9, 2, 3], kv(3))
    assert cache.longest([1, 2, 3, 4, 5]).length == 4
    assert cache.longest([1, 2, 3, 4]).length == 2  # the last position is always computed
    assert cache.longest([1, 2, 7]).length == 2
    assert cache.longest([2, 2, 3]) is None
    assert [1, 2, 3, 4] in cache and [1, 2, 3] not in cache


def test_least_recently_used_prefix_goes_first_within_the_budget() -> None:
    from llm_engineering.infrastructure.llm.prefix_cache import PrefixCache

    one = kv(10).nbytes
    cache = PrefixCache(max_bytes=2 * one)
    cache.add([1] * 10, kv(10))
    cache.add([2] * 10, kv(10))
    assert cache.longest([1] * 11) is not None  # [1]*10 is now the most recently used
    cache.add([3] * 10, kv(10))
    assert [2] * 10 not in cache and [1] * 10 in cache and [3] * 10 in cache
    assert cache.nbytes == 2 * one and len(cache) == 2
    cache.add([4] * 30, kv(30))  # larger than the whole budget: not kept, nothing evicted
    assert len(cache) == 2 and [4] * 30 not in cache


def test_a_chats_next_turn_reuses_its_opening_and_answers_the_same(tiny_model_dir: Path) -> None:
    """Turn 1 opens with the system prompt, turn 2 with it and turn 1: each later request
    prefills only what is new, and greedy answers equal those of an LLM without the cache."""
    system = ChatMessage(role="system", content="You are a twin who writes about crawlers.")
    params = GenerationParams(max_tokens=12)
    cached, plain = (
        warm_tiny_llm(tiny_model_dir, max_batch=2, max_seq_len=512, prefix_cache_mb=mb) for mb in (64, 0)
    )
    try:
        engine = cached._engine
        assert plain._engine.prefix_cache is None
        turns: list[ChatMessage] = [system]
        openings: list[int] = []
        for question in ("What is a vector database?", "And how does LoRA work?", "Tell me more."):
            turns.append(ChatMessage(role="user", content=question))
            openings.append(cached.reusable_prefix(turns, cached.encode_chat(turns)))
            reused_before = engine.reused_tokens
            answer = cached.complete(turns, params).text
            assert answer == plain.complete(turns, params).text
            # the first turn finds nothing; each later one, the opening the turn before it kept
            assert engine.reused_tokens - reused_before == (openings[-2] if len(openings) > 1 else 0)
            turns.append(ChatMessage(role="assistant", content=answer))
        system_tokens = openings[0]
        assert 0 < system_tokens < openings[1] < openings[2]
        # another chat with the same system prompt opens from the cache too
        before = engine.reused_tokens
        cached.complete([system, ChatMessage(role="user", content="Hello?")], params)
        assert engine.reused_tokens - before == system_tokens
    finally:
        cached.close()
        plain.close()


def test_a_lone_message_shares_nothing_and_a_system_prompt_is_shared(local_llm: Any) -> None:
    lone = [ChatMessage(role="user", content="Hi")]
    assert local_llm.reusable_prefix(lone, local_llm.encode_chat(lone)) == 0
    two = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi")]
    prompt = local_llm.encode_chat(two)
    shared = local_llm.reusable_prefix(two, prompt)
    assert 0 < shared < len(prompt)
    rendered = local_llm._tokenizer.decode(prompt[:shared])
    assert rendered.endswith("Be brief.<|im_end|>\n") and "Hi" not in rendered

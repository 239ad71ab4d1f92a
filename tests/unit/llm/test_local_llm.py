"""The local adapter and its lean batched decoder, on a real tiny Llama built in the test."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from llm_engineering.domain.llm import ChatMessage, GenerationParams, LLMError, PromptTooLong
from tests.unit.llm.conftest import warm_tiny_llm

QUESTIONS = [
    "What is a vector database?",
    "How does LoRA work?",
    "Who is the twin and what does it read about crawlers and the warehouse?",
    "Tell me about retrieval.",
]


def chat(question: str) -> list[ChatMessage]:
    return [ChatMessage(role="system", content="You are a twin."), ChatMessage(role="user", content=question)]


def reference(tiny_hf: tuple[Any, Any], messages: list[ChatMessage], max_new: int) -> tuple[list[int], str]:
    """Plain `model.generate`, greedy: the tokens and text our loop must reproduce exactly."""
    import torch

    model, tokenizer = tiny_hf
    text = tokenizer.apply_chat_template(
        [m.model_dump() for m in messages], add_generation_prompt=True, tokenize=False
    )
    ids = tokenizer(text, add_special_tokens=False).input_ids
    with torch.inference_mode():
        out = model.generate(torch.tensor([ids]), max_new_tokens=max_new, do_sample=False)
    new = out[0, len(ids) :].tolist()
    return new, tokenizer.decode(new, skip_special_tokens=True)


def wait_idle(llm: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while llm._engine.active_count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_greedy_output_equals_model_generate_token_for_token(
    local_llm: Any, tiny_hf: tuple[Any, Any]
) -> None:
    from llm_engineering.infrastructure.llm.engine import GenerationRequest

    for question in QUESTIONS:
        messages = chat(question)
        expected_ids, expected_text = reference(tiny_hf, messages, 40)
        request = local_llm._engine.submit(
            GenerationRequest(prompt_ids=local_llm.encode_chat(messages), max_new_tokens=40)
        )
        got: list[int] = []
        while (event := request.events.get())[0] == "token":
            got.append(event[1])
        assert got == expected_ids
        assert local_llm.complete(messages, GenerationParams(max_tokens=40)).text == expected_text


def test_stream_usage_and_max_tokens(local_llm: Any) -> None:
    messages = chat(QUESTIONS[0])
    deltas = list(local_llm.stream(messages, GenerationParams(max_tokens=7)))
    last = deltas[-1]
    assert last.finish_reason == "length"
    assert last.usage.completion_tokens == 7
    assert last.usage.prompt_tokens == local_llm.count_tokens(messages)
    assert all(d.finish_reason is None for d in deltas[:-1])
    assert "".join(d.text for d in deltas)


def test_count_tokens_is_the_rendered_chat_prompt(local_llm: Any, tiny_hf: tuple[Any, Any]) -> None:
    _, tokenizer = tiny_hf
    messages = chat("Count me, please.")
    rendered = (
        "<|im_start|>system\nYou are a twin.<|im_end|>\n<|im_start|>user\nCount me, please.<|im_end|>\n"
    )
    rendered += "<|im_start|>assistant\n"
    assert local_llm.count_tokens(messages) == len(tokenizer(rendered, add_special_tokens=False).input_ids)
    assert local_llm.context_window == 256  # the model's 512 positions, capped by max_seq_len


def test_stop_string_ends_the_answer_before_it(local_llm: Any) -> None:
    messages = chat(QUESTIONS[1])
    full = local_llm.complete(messages, GenerationParams(max_tokens=40)).text
    assert len(full) > 20
    stop = full[12:15]
    cut = full.index(stop)
    result = local_llm.complete(messages, GenerationParams(max_tokens=40, stop=(stop, "never-seen-stop")))
    assert result.text == full[:cut]
    assert result.finish_reason == "stop"
    assert result.usage.completion_tokens < 40
    streamed = "".join(
        d.text for d in local_llm.stream(messages, GenerationParams(max_tokens=40, stop=(stop,)))
    )
    assert streamed == full[:cut]


def test_concurrent_requests_share_one_batch_and_match_sequential(local_llm: Any) -> None:
    params = GenerationParams(max_tokens=30)
    sequential = [local_llm.complete(chat(q), params).text for q in QUESTIONS]
    engine = local_llm._engine
    engine.max_batch_seen = 0
    results: dict[int, str] = {}
    start = threading.Barrier(len(QUESTIONS))

    def ask(i: int) -> None:
        start.wait()
        results[i] = local_llm.complete(chat(QUESTIONS[i]), params).text

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(QUESTIONS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [results[i] for i in range(len(QUESTIONS))] == sequential
    assert engine.max_batch_seen >= 2  # they really decoded together


def test_more_requests_than_slots_wait_and_all_finish(local_llm: Any) -> None:
    params = GenerationParams(max_tokens=5)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda q=q: results.append(local_llm.complete(chat(q), params).text))
        for q in QUESTIONS * 3  # 12 requests, 4 slots
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 12 and all(results)
    assert local_llm._engine.max_batch_seen <= 4


def test_closing_the_stream_frees_the_slot_at_once(local_llm: Any) -> None:
    wait_idle(local_llm)
    stream = local_llm.stream(chat(QUESTIONS[2]), GenerationParams(max_tokens=150))
    first = next(stream)
    assert first.text
    assert local_llm._engine.active_count == 1
    steps_before = local_llm._engine.steps
    stream.close()  # what the API does when the client goes away
    wait_idle(local_llm, timeout=2.0)
    assert local_llm._engine.active_count == 0
    assert local_llm._engine.steps - steps_before < 50  # it stopped long before its 150 tokens
    # the engine goes on serving
    assert local_llm.complete(chat(QUESTIONS[0]), GenerationParams(max_tokens=3)).usage.completion_tokens == 3


def test_seeded_sampling_is_reproducible(local_llm: Any) -> None:
    params = GenerationParams(max_tokens=20, temperature=1.0, top_p=0.9, seed=7)
    a = local_llm.complete(chat(QUESTIONS[3]), params).text
    b = local_llm.complete(chat(QUESTIONS[3]), params).text
    c = local_llm.complete(chat(QUESTIONS[3]), params.model_copy(update={"seed": 8})).text
    greedy = local_llm.complete(chat(QUESTIONS[3]), GenerationParams(max_tokens=20)).text
    assert a == b
    assert a != c or a != greedy


def test_prompt_over_the_window_is_refused(local_llm: Any) -> None:
    long_question = "vector " * 300
    with pytest.raises(PromptTooLong, match="max_tokens"):
        local_llm.complete(chat(long_question), GenerationParams(max_tokens=10))
    with pytest.raises(LLMError, match="no messages"):
        local_llm.count_tokens([])


def test_bad_model_path_names_it(tmp_path: Path) -> None:
    from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig

    llm = LocalLLM(LocalLLMConfig(model_path=tmp_path / "nowhere"))
    with pytest.raises(LLMError, match=r"LLM_MODEL_PATH .*nowhere"):
        llm.warm_up()


def test_registry_production_twin_is_served(tiny_model_dir: Path, tmp_path: Path) -> None:
    from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig

    class Twin:
        version, stage, weights_dir = "3", "production", tiny_model_dir

    class Registry:
        def production(self) -> Twin:
            return Twin()

    config = LocalLLMConfig(gguf_path=tmp_path / "missing.gguf", cache_dir=tmp_path / "cache", device="cpu")
    llm = LocalLLM(config, registry=Registry())
    assert llm.model_name == "twin:3"
    assert llm.context_window == 512


def test_missing_gguf_says_what_to_run(tmp_path: Path) -> None:
    from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig
    from llm_engineering.infrastructure.llm.provision import ModelNotProvisioned

    class EmptyRegistry:
        def production(self) -> None:
            return None

    config = LocalLLMConfig(gguf_path=tmp_path / "missing.gguf", cache_dir=tmp_path / "cache")
    with pytest.raises(ModelNotProvisioned, match=r"scripts/poe"):
        LocalLLM(config, registry=EmptyRegistry()).warm_up()


def stream_with_interval(model_dir: Path, interval: float) -> tuple[list[Any], float, float, str]:
    """The deltas of one 40-token answer, when the first came, when the last came, and the
    text `complete` gives."""
    llm = warm_tiny_llm(model_dir, max_batch=1, max_seq_len=256, stream_interval=interval)
    try:
        messages, params = chat(QUESTIONS[1]), GenerationParams(max_tokens=40)
        expected = llm.complete(messages, params).text
        start = time.monotonic()
        stream = llm.stream(messages, params)
        first = next(stream)
        first_at = time.monotonic() - start
        deltas = [first, *stream]
        return deltas, first_at, time.monotonic() - start, expected
    finally:
        llm.close()


def test_stream_gathers_each_intervals_tokens_into_one_delta(tiny_model_dir: Path) -> None:
    """Without an interval a delta per wake-up (about one per token); with one, the first token
    at once and the rest in a few deltas: the same text and usage either way, and the end is not
    held back until the interval is out."""
    interval = 0.3
    eager, _, _, expected = stream_with_interval(tiny_model_dir, 0.0)
    gathered, first_at, elapsed, _ = stream_with_interval(tiny_model_dir, interval)
    for deltas in (eager, gathered):
        assert "".join(d.text for d in deltas) == expected
        assert deltas[-1].usage.completion_tokens == 40 and deltas[-1].finish_reason == "length"
    eager_count = sum(1 for d in eager if d.text)
    gathered_count = sum(1 for d in gathered if d.text)
    assert gathered_count <= 3 < eager_count, (gathered_count, eager_count)  # 40 tokens take < 0.3 s
    assert gathered[0].text and first_at < interval  # the first token does not wait
    assert elapsed < 2 * interval  # the wait ends when the answer does


def test_stream_interval_out_of_range_is_refused(tiny_model_dir: Path) -> None:
    from llm_engineering.infrastructure.llm.local import LocalLLMConfig

    with pytest.raises(ValueError, match="LLM_STREAM_INTERVAL_MS"):
        LocalLLMConfig(model_path=tiny_model_dir, stream_interval=2.0)

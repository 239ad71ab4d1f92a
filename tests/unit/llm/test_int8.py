"""LLM_DTYPE=int8 (int8 weights, dynamic int8 matmuls) and the decode loop's own thread count,
on the real tiny Llama built in the test, against the fp32 decoder and `model.generate`."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from llm_engineering.domain.llm import GenerationParams
from tests.unit.llm.test_local_llm import QUESTIONS, chat, reference


@pytest.fixture(scope="module")
def int8_llm(tiny_model_dir: Path) -> Any:
    from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig

    llm = LocalLLM(
        LocalLLMConfig(
            model_path=tiny_model_dir, device="cpu", dtype="int8", max_batch=4, max_seq_len=256, threads=1
        )
    )
    llm.warm_up()
    yield llm
    llm.close()


def test_int8_logits_track_fp32_and_greedy_agrees_teacher_forced(
    int8_llm: Any, tiny_hf: tuple[Any, Any]
) -> None:
    """Fed the fp32 greedy answer token by token, the int8 decoder picks the same next token at
    >= 90% of positions and its logits keep a cosine >= 0.99 with fp32's (the tolerance claimed),
    its prompt's attention in bf16 included."""
    import torch

    from llm_engineering.infrastructure.llm.engine import LlamaDecoder, _native_bf16_cpu

    model, _ = tiny_hf
    fp32 = LlamaDecoder(model, max_batch=1, max_seq_len=256)
    int8 = LlamaDecoder(model, max_batch=1, max_seq_len=256, quantize="int8")
    assert int8.quantize == "int8" and not isinstance(int8.lm_head, tuple)
    # a prompt's attention runs in bf16 where the CPU has it natively (then inside this tolerance)
    assert fp32.prompt_attention_dtype == torch.float32
    assert int8.prompt_attention_dtype == (torch.bfloat16 if _native_bf16_cpu() else torch.float32)
    agree, total, cosines = 0, 0, []
    with torch.inference_mode():
        for question in QUESTIONS:
            prompt = int8_llm.encode_chat(chat(question))
            answer, _ = reference(tiny_hf, chat(question), 30)
            ref_logits, q_logits = fp32.prefill(0, prompt), int8.prefill(0, prompt)
            for step, token in enumerate(answer):
                assert int(ref_logits.argmax()) == token  # the fp32 decoder is generate's twin
                agree += int(q_logits.argmax()) == token
                total += 1
                cosines.append(
                    float(torch.cosine_similarity(ref_logits.flatten(), q_logits.flatten(), dim=0))
                )
                tok, pos = torch.tensor([token]), torch.tensor([len(prompt) + step])
                ref_logits = fp32.decode(tok, pos, len(prompt) + step + 1)[0]
                q_logits = int8.decode(tok, pos, len(prompt) + step + 1)[0]
    assert agree / total >= 0.9, f"int8 greedy agreement {agree}/{total}"
    assert min(cosines) >= 0.99


def test_int8_llm_streams_and_batches_like_sequential(int8_llm: Any) -> None:
    params = GenerationParams(max_tokens=24)
    sequential = [int8_llm.complete(chat(q), params) for q in QUESTIONS]
    assert all(c.usage.completion_tokens == 24 and c.text for c in sequential)
    results: dict[int, str] = {}

    def ask(i: int) -> None:
        results[i] = int8_llm.complete(chat(QUESTIONS[i]), params).text

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(QUESTIONS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # every concurrent answer completes; the dynamic quantiser scales activations per call (per
    # batch), so a row's text may differ from its sequential run: LLM_DTYPE=int8 is not
    # batch-invariant (float32 and bfloat16 are)
    assert sorted(results) == list(range(len(QUESTIONS))) and all(results.values())
    assert int8_llm._engine.max_batch_seen > 1


def test_decode_thread_count_is_the_engines_own(tiny_hf: tuple[Any, Any]) -> None:
    import torch

    from llm_engineering.infrastructure.llm.engine import BatchEngine, LlamaDecoder

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        engine = BatchEngine(LlamaDecoder(tiny_hf[0], max_batch=1, max_seq_len=64), threads=1)
        assert engine._started.wait(10)
        assert engine.threads_in_use == 1
        assert torch.get_num_threads() == 2  # the caller's setting is untouched by the engine's
        engine.close()
    finally:
        torch.set_num_threads(before)


def test_auto_threads_and_bad_values(tiny_model_dir: Path) -> None:
    import os

    from llm_engineering.infrastructure.llm.local import LocalLLMConfig

    config = LocalLLMConfig(model_path=tiny_model_dir)
    assert config.decode_threads() == len(os.sched_getaffinity(0))  # the decode loop owns the cores
    assert replace(config, threads=3).decode_threads() == 3
    with pytest.raises(ValueError, match="LLM_NUM_THREADS"):
        replace(config, threads=-1)
    with pytest.raises(ValueError, match="LLM_DTYPE"):
        replace(config, dtype="int4")  # type: ignore[arg-type]


def test_auto_dtype_is_int8_on_cpu_and_bfloat16_on_a_gpu(tiny_model_dir: Path) -> None:
    from llm_engineering.infrastructure.llm.local import LocalLLMConfig
    from llm_engineering.settings import Settings

    config = LocalLLMConfig(model_path=tiny_model_dir)
    assert config.dtype == "auto" and Settings(_env_file=None).LLM_DTYPE == "auto"
    assert config.resolved_dtype("cpu") == "int8"
    assert config.resolved_dtype("cuda") == "bfloat16"
    assert replace(config, dtype="int8").resolved_dtype("cuda") == "bfloat16"  # int8 kernels are CPU ones
    assert replace(config, dtype="float32").resolved_dtype("cpu") == "float32"


def test_auto_dtype_loads_int8_on_cpu(tiny_model_dir: Path) -> None:
    from llm_engineering.domain.llm import ChatMessage, GenerationParams
    from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig

    llm = LocalLLM(LocalLLMConfig(model_path=tiny_model_dir, device="cpu", max_seq_len=128, threads=1))
    try:
        answer = llm.complete([ChatMessage(role="user", content="hi")], GenerationParams(max_tokens=3))
        assert llm.dtype == "int8" and llm._engine is not None and llm._engine.decoder.quantize == "int8"
        assert answer.usage.completion_tokens >= 1
    finally:
        llm.close()

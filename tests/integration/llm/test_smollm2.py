"""The real base model: SmolLM2-135M-Instruct converted from set-up's GGUF, answering a question."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from llm_engineering.domain.llm import ChatMessage, GenerationParams
from llm_engineering.settings import Settings


@pytest.mark.slow
def test_smollm2_converts_once_and_answers(tmp_path: Path) -> None:
    from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig
    from llm_engineering.infrastructure.llm.provision import converted_dir, ensure_base_model

    settings = Settings()
    if not settings.LLM_BASE_GGUF.is_file():
        pytest.skip(f"{settings.LLM_BASE_GGUF} is absent: ./scripts/poe fetches it")
    # the conversion (~20 s to minutes) is shared across test sessions, outside the repo
    cache = settings.MODEL_CACHE_DIR or Path(tempfile.gettempdir()) / "llm-twin-model-cache"
    folder = ensure_base_model(settings.LLM_BASE_GGUF, cache)
    assert folder == converted_dir(cache) and (folder / "model.safetensors").is_file()
    assert ensure_base_model(settings.LLM_BASE_GGUF, cache) == folder  # cached: no second conversion

    llm = LocalLLM(LocalLLMConfig(gguf_path=settings.LLM_BASE_GGUF, cache_dir=cache, device="cpu"))
    assert llm.model_name == "SmolLM2-135M-Instruct"
    assert llm.context_window == 4096  # 8192 positions, capped by LLM_MAX_SEQ_LEN
    messages = [ChatMessage(role="user", content="What is the capital of France?")]
    try:
        # int8 (the CPU default) opens with a sentence on France and names Paris by token ~40
        answer = llm.complete(messages, GenerationParams(max_tokens=64))
        assert answer.usage.prompt_tokens == llm.count_tokens(messages)
    finally:
        llm.close()
    assert "Paris" in answer.text

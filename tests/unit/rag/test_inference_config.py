from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.infrastructure.api.config import InferenceConfig, load_inference_config
from llm_engineering.infrastructure.api.protocol import ChatCompletionRequest


def test_the_shipped_config_is_valid_and_uses_the_offline_defaults() -> None:
    config = load_inference_config(Path("configs/inference.yaml"))
    assert config.rag.retrieval.mode == "hybrid"
    assert config.rag.rerank.method == "none"
    assert config.rag.expansion.enabled is False
    assert config.rag.self_query.method == "fuzzy"
    assert config == InferenceConfig()  # the YAML spells out the defaults


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("rag:\n  rerank:\n    method: cross-encoder\n", "model_path"),
        ("rag:\n  retrieval:\n    mode: sparse\n", "rag.retrieval.mode"),
        ("service:\n  max_concurrent: 0\n", "service.max_concurrent"),
        ("service:\n  default_max_tokens: 4096\n", "max_tokens_limit"),
        ("rag: {typo: 1}\n", "rag.typo"),
        ("rag: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_config_names_the_entry(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "inference.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=says):
        load_inference_config(path)


def test_a_missing_config_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_inference_config(tmp_path / "nope.yaml")


def test_chat_request_maps_openai_fields() -> None:
    request = ChatCompletionRequest.model_validate(
        {
            "model": "llm-twin",
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}],
                },
            ],
            "max_tokens": 10,
            "max_completion_tokens": 20,
            "stop": "END",
            "frequency_penalty": 0.5,  # accepted and ignored, as vLLM does
        }
    )
    assert [m.to_domain().role for m in request.messages] == ["system", "user"]
    assert request.messages[1].to_domain().content == "Hi there"
    assert request.requested_max_tokens() == 20
    assert request.stop_sequences() == ("END",)
    with pytest.raises(ValueError, match="at most 4"):
        ChatCompletionRequest.model_validate(
            {"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]}
        )
    with pytest.raises(ValueError):
        ChatCompletionRequest.model_validate(
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}
        )

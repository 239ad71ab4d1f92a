"""The OpenAI-compatible adapter against a real HTTP server on 127.0.0.1 that speaks the OpenAI chat
API (a small FastAPI stand-in under uvicorn), through the official `openai` SDK."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import SecretStr

from llm_engineering.domain.llm import ChatMessage, GenerationParams, LLMError

WORDS = ["The ", "twin ", "answers ", "from ", "its ", "articles."]


class StandIn:
    """Records requests; fails the first `fail_first` of them with `fail_status`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.fail_first = 0
        self.fail_status = 429

    def app(self) -> Any:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Any:
            body = await request.json()
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            if len(self.requests) <= self.fail_first:
                return JSONResponse(
                    {"error": {"message": "slow down", "type": "rate_limit"}},
                    status_code=self.fail_status,
                    headers={"retry-after": "0"},
                )
            words = WORDS[: body.get("max_tokens", 100)]
            finish = "length" if len(words) < len(WORDS) else "stop"
            base = {"id": "c1", "created": 0, "model": body["model"]}
            if not body.get("stream"):
                return {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(words)},
                            "finish_reason": finish,
                        }
                    ],
                    "usage": {
                        "prompt_tokens": 11,
                        "completion_tokens": len(words),
                        "total_tokens": 11 + len(words),
                    },
                }

            def events() -> Iterator[str]:
                chunk = {**base, "object": "chat.completion.chunk"}
                for word in words:
                    delta = {"index": 0, "delta": {"content": word}, "finish_reason": None}
                    yield f"data: {json.dumps({**chunk, 'choices': [delta]})}\n\n"
                end = {"index": 0, "delta": {}, "finish_reason": finish}
                yield f"data: {json.dumps({**chunk, 'choices': [end]})}\n\n"
                usage = {
                    "prompt_tokens": 11,
                    "completion_tokens": len(words),
                    "total_tokens": 11 + len(words),
                }
                yield f"data: {json.dumps({**chunk, 'choices': [], 'usage': usage})}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        return app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[StandIn, str]]:
    import uvicorn

    stand_in = StandIn()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(stand_in.app(), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield stand_in, f"http://127.0.0.1:{port}/v1"
    uv.should_exit = True
    thread.join(timeout=10)


def make_llm(base_url: str, **overrides: Any) -> Any:
    from llm_engineering.infrastructure.llm.openai_compat import OpenAICompatConfig, OpenAICompatLLM

    config = {"model": "twin-remote", "base_url": base_url, "api_key": SecretStr("sk-test"), "timeout": 10.0}
    return OpenAICompatLLM(OpenAICompatConfig(**{**config, **overrides}))


MESSAGES = [ChatMessage(role="user", content="Who are you?")]


def test_complete_retries_429_then_succeeds(server: tuple[StandIn, str]) -> None:
    stand_in, url = server
    stand_in.requests.clear()
    stand_in.fail_first, stand_in.fail_status = 1, 429
    llm = make_llm(url, max_retries=2)
    result = llm.complete(MESSAGES, GenerationParams(max_tokens=50, stop=("\n\n",), temperature=0.3, seed=5))
    assert len(stand_in.requests) == 2  # one 429, one success
    assert result.text == "".join(WORDS)
    assert result.finish_reason == "stop"
    assert result.usage.prompt_tokens == 11 and result.usage.completion_tokens == len(WORDS)
    sent = stand_in.requests[-1]
    assert sent["messages"] == [{"role": "user", "content": "Who are you?"}]
    assert sent["stop"] == ["\n\n"] and sent["max_tokens"] == 50 and sent["seed"] == 5
    assert stand_in.headers[-1]["authorization"] == "Bearer sk-test"
    llm.close()


def test_stream_retries_503_and_yields_deltas_then_usage(server: tuple[StandIn, str]) -> None:
    stand_in, url = server
    stand_in.requests.clear()
    stand_in.fail_first, stand_in.fail_status = 1, 503
    llm = make_llm(url, max_retries=1)
    deltas = list(llm.stream(MESSAGES, GenerationParams(max_tokens=3)))
    assert [d.text for d in deltas[:-1]] == WORDS[:3]
    assert deltas[-1].finish_reason == "length"
    assert deltas[-1].usage.completion_tokens == 3
    assert stand_in.requests[-1]["stream"] is True


def test_exhausted_retries_raise_one_clear_error(server: tuple[StandIn, str]) -> None:
    stand_in, url = server
    stand_in.requests.clear()
    stand_in.fail_first, stand_in.fail_status = 10, 500
    llm = make_llm(url, max_retries=1)
    with pytest.raises(LLMError, match="failed"):
        llm.complete(MESSAGES, GenerationParams())
    assert len(stand_in.requests) == 2
    stand_in.fail_first = 0


def test_build_llm_picks_the_adapter_by_backend(monkeypatch: pytest.MonkeyPatch, data_dir: Any) -> None:
    from llm_engineering.domain.exceptions import ConfigError
    from llm_engineering.infrastructure.llm import build_llm
    from llm_engineering.infrastructure.llm.local import LocalLLM
    from llm_engineering.infrastructure.llm.openai_compat import OpenAICompatLLM
    from llm_engineering.infrastructure.llm.sagemaker import SageMakerLLM
    from llm_engineering.settings import Settings

    assert isinstance(build_llm(Settings()), LocalLLM)
    assert isinstance(build_llm(Settings(LLM_BACKEND="openai", LLM_MODEL="m")), OpenAICompatLLM)
    sm = build_llm(Settings(LLM_BACKEND="sagemaker", SAGEMAKER_ENDPOINT_NAME="twin-tgi"))
    assert isinstance(sm, SageMakerLLM) and sm.model_name == "twin-tgi"
    with pytest.raises(ConfigError, match="LLM_MODEL is empty"):
        build_llm(Settings(LLM_BACKEND="openai"))
    with pytest.raises(ConfigError, match="SAGEMAKER_ENDPOINT_NAME"):
        build_llm(Settings(LLM_BACKEND="sagemaker"))

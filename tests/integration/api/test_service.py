"""The twin over HTTP: the official openai SDK (streaming and not), /rag, /v1/models, /health,
every bad input, the API key and CORS."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.infrastructure.api.app import create_app
from llm_engineering.infrastructure.api.config import InferenceConfig
from llm_engineering.infrastructure.api.runtime import build_runtime
from tests.integration.api.conftest import Corpus, Server, make_settings, twin_app
from tests.integration.api.tiny_llm import TinyLlama

QUESTION = "What does Paul Iusztin say about feature stores?"


def client(server: Server, api_key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=api_key, max_retries=0, timeout=60)


def test_openai_sdk_non_streaming_answer_with_sources(twin: Server, corpus: tuple[Corpus, dict]) -> None:
    _, links = corpus
    response = client(twin).chat.completions.create(
        model="llm-twin", messages=[{"role": "user", "content": QUESTION}], max_tokens=12
    )
    assert response.object == "chat.completion" and response.model == "llm-twin"
    choice = response.choices[0]
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert response.usage is not None
    assert 0 < response.usage.completion_tokens <= 12
    assert response.usage.prompt_tokens > 100  # the RAG context is in the prompt
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    sources = response.model_extra["sources"]
    # self-query filtered on Paul: every source is his, the feature-store article first
    assert {s["author_full_name"] for s in sources} == {"Paul Iusztin"}
    assert sources[0]["link"] == links["feature-stores"]
    assert sources[0]["title"] == "Feature Stores for LLM Systems"
    assert [s["number"] for s in sources] == list(range(1, len(sources) + 1))
    assert all(isinstance(s["cited"], bool) for s in sources)


def test_openai_sdk_streams_the_same_answer_with_usage_and_sources(twin: Server) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    whole = client(twin).chat.completions.create(model="llm-twin", messages=messages, max_tokens=12)
    chunks = list(
        client(twin).chat.completions.create(
            model="llm-twin",
            messages=messages,
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content  # greedy: the same tokens either way
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].model_extra["sources"] == whole.model_extra["sources"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert len({c.id for c in chunks}) == 1


def test_stream_without_include_usage_ends_with_done(twin: Server) -> None:
    body = {"messages": [{"role": "user", "content": "quantization?"}], "stream": True, "max_tokens": 4}
    with httpx.stream("POST", twin.url + "/v1/chat/completions", json=body, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert all("usage" not in json.loads(e) for e in events[:-1])


def test_rag_route_answers_with_sources(twin: Server, corpus: tuple[Corpus, dict]) -> None:
    _, links = corpus
    response = twin.post("/rag", json={"query": "How do I merge models with mergekit?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["answer"], str)
    assert body["sources"][0]["link"] == links["model-merging"]
    for source in body["sources"]:
        assert {"link", "title", "author_full_name", "category", "content"} <= source.keys()
        assert source["category"] == "articles" and source["content"]
    assert "mergekit" in body["sources"][0]["content"]


def test_models_and_health(twin: Server, tiny_llm: TinyLlama) -> None:
    assert twin.get("/health").json() == {"status": "ok"}
    models = client(twin).models.list().data
    assert [m.id for m in models] == ["llm-twin"]
    assert models[0].model_extra["root"] == tiny_llm.model_name


def test_health_is_503_until_the_models_are_loaded(
    corpus: tuple[Corpus, dict], tiny_llm: TinyLlama, serve: Callable[..., Server]
) -> None:
    store, _ = corpus
    release = threading.Event()

    def slow_runtime() -> Any:
        release.wait(30)
        return build_runtime(store.settings, InferenceConfig(), llm=tiny_llm, embedder=store.embedder)

    server = serve(create_app(store.settings, InferenceConfig(), runtime_factory=slow_runtime))
    loading = server.get("/health")
    assert loading.status_code == 503 and loading.json()["status"] == "loading"
    busy = server.post("/rag", json={"query": "anything"})
    assert busy.status_code == 503 and "loading" in busy.json()["error"]["message"]
    release.set()
    server.wait_ready()


def test_a_failed_start_says_why_on_health(corpus: tuple[Corpus, dict], serve: Callable[..., Server]) -> None:
    store, _ = corpus

    def broken() -> Any:
        raise ConfigError("no model here: fix LLM_BACKEND")

    server = serve(create_app(store.settings, InferenceConfig(), runtime_factory=broken))
    for _ in range(100):
        health = server.get("/health")
        if health.json()["status"] != "loading":
            break
    assert health.status_code == 503
    assert health.json() == {"status": "failed", "detail": "ConfigError: no model here: fix LLM_BACKEND"}


def test_worker_threads_leave_the_cores_to_the_decode_loop(
    corpus: tuple[Corpus, dict], serve: Callable[..., Server]
) -> None:
    """The runtime loads (and RAG runs) in the app's worker threads, with one torch thread each:
    a second multi-threaded OpenMP pool in the process would halve the decode loop's speed."""
    import torch

    store, _ = corpus
    seen: list[int] = []

    def probe() -> Any:
        seen.append(torch.get_num_threads())
        raise ConfigError("probe only")

    assert store.settings.LLM_BACKEND == "local"
    server = serve(create_app(store.settings, InferenceConfig(), runtime_factory=probe))
    for _ in range(100):
        if server.get("/health").json()["status"] != "loading":
            break
    assert seen == [1]


BIG = "word " * 6000  # ~30 kB: under the body limit, over the model's window


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"model": "llm-twin"}, 400, "messages: Field required"),
        ({"messages": []}, 400, "messages: List should have at least 1 item"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, 400, "messages.0.role"),
        ({"messages": [{"content": "hi"}]}, 400, "messages.0.role: Field required"),
        (
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
            400,
            "end with a user",
        ),
        ({"messages": [{"role": "user", "content": "   "}]}, 400, "empty"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, 400, "max_tokens"),
        (
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000},
            400,
            "max_tokens 100000 is out of range",
        ),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": 3}, 400, "temperature"),
        ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, 400, "n:"),
        ({"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o"}, 404, "'gpt-4o' is not served"),
        ({"messages": [{"role": "user", "content": BIG}]}, 400, "over the model's window"),
    ],
)
def test_bad_chat_requests_get_a_4xx_naming_the_problem(
    twin: Server, body: dict, status: int, says: str
) -> None:
    response = twin.post("/v1/chat/completions", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert says in error["message"]
    assert error["type"] == "invalid_request_error"


def test_prompt_too_long_has_openais_code(twin: Server) -> None:
    response = twin.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": BIG}]})
    assert response.json()["error"]["code"] == "context_length_exceeded"


def test_oversized_and_malformed_bodies(twin: Server) -> None:
    huge = {"messages": [{"role": "user", "content": "x" * 1_100_000}]}
    response = twin.post("/v1/chat/completions", json=huge)
    assert response.status_code == 413 and "over 1000000 bytes" in response.json()["error"]["message"]
    # no Content-Length (chunked): counted while reading
    chunked = httpx.post(
        twin.url + "/v1/chat/completions",
        content=iter([b"x" * 600_000, b"y" * 600_000]),
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert chunked.status_code == 413
    broken = twin.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400 and "JSON" in broken.json()["error"]["message"]
    assert twin.post("/rag", json={"query": " "}).status_code == 400
    assert twin.post("/rag", json={}).json()["error"]["message"] == "query: Field required"


def test_the_openai_sdk_sees_bad_requests_as_its_own_errors(twin: Server) -> None:
    with pytest.raises(openai.NotFoundError, match="not served"):
        client(twin).chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client(twin).chat.completions.create(
            model="llm-twin", messages=[{"role": "user", "content": "hi"}], max_tokens=5000
        )


def test_api_key_guards_every_route_but_health_and_cors_is_opt_in(
    corpus: tuple[Corpus, dict], tiny_llm: TinyLlama, serve: Callable[..., Server], twin: Server
) -> None:
    store, _ = corpus
    settings = make_settings(store.settings.DATA_DIR, API_KEY="s3cret-key", CORS_ORIGINS="http://chat.local")
    server = serve(twin_app(settings, tiny_llm, store.embedder, default_max_tokens=4))
    server.wait_ready()
    assert server.get("/health").status_code == 200
    for path, method in (("/v1/models", "GET"), ("/v1/chat/completions", "POST"), ("/rag", "POST")):
        response = httpx.request(method, server.url + path, json={"query": "q"}, timeout=30)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "invalid_api_key"
        wrong = httpx.request(method, server.url + path, headers={"Authorization": "Bearer nope"}, timeout=30)
        assert wrong.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        client(server, "wrong").models.list()
    answer = client(server, "s3cret-key").chat.completions.create(
        model="llm-twin", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content is not None
    # CORS: allowed for the configured origin only; off entirely on the default server
    preflight = {"Origin": "http://chat.local", "Access-Control-Request-Method": "POST"}
    allowed = httpx.options(server.url + "/v1/chat/completions", headers=preflight, timeout=30)
    assert allowed.headers.get("access-control-allow-origin") == "http://chat.local"
    other = httpx.options(
        server.url + "/v1/chat/completions", headers={**preflight, "Origin": "http://evil.local"}, timeout=30
    )
    assert other.headers.get("access-control-allow-origin") is None
    off = httpx.options(twin.url + "/v1/chat/completions", headers=preflight, timeout=30)
    assert "access-control-allow-origin" not in off.headers


def test_answer_once_answers_one_question_with_sources(
    corpus: tuple[Corpus, dict], tiny_llm: TinyLlama
) -> None:
    from llm_engineering.infrastructure.api.runtime import answer_once

    store, links = corpus
    answer = answer_once(
        store.settings,
        "What does Maxime say about quantization?",
        config=InferenceConfig(),
        llm=tiny_llm,
        embedder=store.embedder,
        max_tokens=6,
    )
    assert answer.author_filter == "Maxime Labonne"
    assert answer.sources[0].link == links["quantization"]
    assert {s.author_full_name for s in answer.sources} == {"Maxime Labonne"}
    assert 0 < answer.usage.completion_tokens <= 6

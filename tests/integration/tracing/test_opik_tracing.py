"""Every request is one Opik trace with a span per RAG stage, sent by the real Opik SDK to a local
stand-in server; without Opik settings nothing is imported, sent or failed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_engineering.application.rag.config import ExpansionConfig, RAGConfig, RerankConfig
from llm_engineering.application.tracing import NULL_TRACE, NullTracer
from llm_engineering.domain.llm import GenerationParams
from llm_engineering.infrastructure.api.app import create_app
from llm_engineering.infrastructure.api.config import InferenceConfig, ServiceConfig
from llm_engineering.infrastructure.api.runtime import build_runtime
from llm_engineering.infrastructure.tracing.opik import OpikTracer, build_tracer
from tests.conftest import REPO_ROOT
from tests.integration.api.conftest import Corpus, Server, make_settings
from tests.integration.api.tiny_llm import TinyLlama
from tests.integration.tracing.recorder import OpikRecorder

pytestmark = pytest.mark.slow  # imports the Opik SDK (tens of seconds on a busy machine)

QUESTION = "What does Paul Iusztin say about feature stores?"
STAGES = {"self_query", "expansion", "retrieval", "rerank", "prompt", "generation"}
#: every stage on: expansion and the LLM reranker run through the tiny LLM
CONFIG = InferenceConfig(
    rag=RAGConfig(expansion=ExpansionConfig(enabled=True, n=1), rerank=RerankConfig(method="llm")),
    service=ServiceConfig(refresh_interval_s=0, default_max_tokens=12),
)


@pytest.fixture(scope="module")
def traced(
    corpus: tuple[Corpus, dict[str, str]],
    tiny_llm: TinyLlama,
    embedder: Any,
    serve: Callable[..., Server],
    recorder: OpikRecorder,
) -> Server:
    store, _ = corpus
    settings = make_settings(
        store.settings.DATA_DIR,
        OPIK_URL_OVERRIDE=recorder.url,
        OPIK_WORKSPACE="twin-workspace",
        OPIK_PROJECT_NAME="twin-tests",
    )

    def runtime() -> Any:
        return build_runtime(settings, CONFIG, llm=tiny_llm, embedder=embedder)

    app = create_app(settings, CONFIG, runtime_factory=runtime)
    server = serve(app)
    server.wait_ready(timeout=240)
    return server


def new_trace(server: Server, recorder: OpikRecorder, traces_before: int) -> tuple[dict, dict[str, dict]]:
    """Flush the service's tracer; the one trace sent since `traces_before`, and its spans by name."""
    tracer = server.app.state.serving.state.runtime.answerer.tracer
    assert isinstance(tracer, OpikTracer)
    assert tracer.flush(30)
    traces = recorder.traces()[traces_before:]
    assert len(traces) == 1, traces
    spans = [s for s in recorder.spans() if s["trace_id"] == traces[0]["id"]]
    by_name = {s["name"]: s for s in spans}
    assert len(by_name) == len(spans)  # one span per stage
    return traces[0], by_name


def sent(recorder: OpikRecorder) -> list[str]:
    """Paths of what the SDK sent, leaving out its connection probe's pings."""
    return [r.path for r in recorder.requests if not r.path.endswith("/is-alive/ping")]


def test_a_chat_request_is_one_trace_with_a_span_per_stage(
    traced: Server, recorder: OpikRecorder, corpus: tuple[Corpus, dict[str, str]]
) -> None:
    _, links = corpus
    before = len(recorder.traces())
    response = traced.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}], "max_tokens": 12}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    answer = body["choices"][0]["message"]["content"]
    trace, spans = new_trace(traced, recorder, before)

    assert trace["name"] == "chat" and trace["project_name"] == "twin-tests"
    assert trace["input"] == {"question": QUESTION, "turns": 1}
    assert trace["output"]["answer"] == answer
    assert trace["metadata"]["model"] == "tiny-llama-test" and trace["metadata"]["latency_ms"] > 0
    assert set(spans) == STAGES
    for span in spans.values():
        assert span["project_name"] == "twin-tests"
        assert span["start_time"] <= span["end_time"]
        assert span["metadata"]["latency_ms"] >= 0
        assert "error_info" not in span

    assert spans["self_query"]["input"] == {"query": QUESTION}
    assert spans["self_query"]["output"]["author"] == "Paul Iusztin"
    assert len(spans["expansion"]["output"]["queries"]) <= 1
    retrieved = spans["retrieval"]
    assert retrieved["type"] == "tool" and retrieved["input"]["author"] == "Paul Iusztin"
    assert links["feature-stores"] in {hit["link"] for hit in retrieved["output"]["hits"]}
    assert spans["rerank"]["output"]["method"] == "llm"
    prompt = spans["prompt"]["output"]
    assert prompt["prompt_tokens"] == body["usage"]["prompt_tokens"]
    assert [s["link"] for s in prompt["sources"]] == [s["link"] for s in body["sources"]]

    generation = spans["generation"]
    assert generation["type"] == "llm" and generation["model"] == "tiny-llama-test"
    assert generation["output"]["text"] == answer
    assert QUESTION in generation["input"]["messages"][-1]["content"]
    assert generation["input"]["params"]["max_tokens"] == 12
    usage = generation["usage"]
    assert usage["prompt_tokens"] == body["usage"]["prompt_tokens"]
    assert usage["completion_tokens"] == body["usage"]["completion_tokens"] > 0
    assert usage["total_tokens"] == body["usage"]["total_tokens"]

    # the spans are the RAG stages in order, inside the trace's time
    ordered = sorted(spans.values(), key=lambda s: s["start_time"])
    assert [s["name"] for s in ordered] == [
        "self_query",
        "expansion",
        "retrieval",
        "rerank",
        "prompt",
        "generation",
    ]
    assert trace["start_time"] <= ordered[0]["start_time"] and ordered[-1]["end_time"] <= trace["end_time"]
    batches = [r for r in recorder.requests if r.path.endswith("/batch")]
    assert all(r.headers.get("Comet-Workspace") == "twin-workspace" for r in batches)


def test_a_streamed_answer_and_a_rag_question_are_traced_too(traced: Server, recorder: OpikRecorder) -> None:
    before = len(recorder.traces())
    streamed = []
    request = {"messages": [{"role": "user", "content": QUESTION}], "max_tokens": 8, "stream": True}
    with httpx.stream("POST", traced.url + "/v1/chat/completions", json=request, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                streamed += [c["delta"].get("content") or "" for c in chunk["choices"]]
    trace, spans = new_trace(traced, recorder, before)
    assert set(spans) == STAGES
    assert spans["generation"]["output"]["text"] == "".join(streamed) == trace["output"]["answer"]
    assert 0 < spans["generation"]["usage"]["completion_tokens"] <= 8

    before = len(recorder.traces())
    answered = traced.post("/rag", json={"query": QUESTION})
    assert answered.status_code == 200, answered.text
    trace, spans = new_trace(traced, recorder, before)
    assert trace["name"] == "rag" and set(spans) == STAGES
    assert spans["generation"]["output"]["text"] == answered.json()["answer"]


def test_without_opik_settings_nothing_is_sent_and_nothing_fails(
    corpus: tuple[Corpus, dict[str, str]], tiny_llm: TinyLlama, embedder: Any, recorder: OpikRecorder
) -> None:
    store, _ = corpus
    sent_before = sent(recorder)
    runtime = build_runtime(make_settings(store.settings.DATA_DIR), CONFIG, llm=tiny_llm, embedder=embedder)
    try:
        assert isinstance(runtime.answerer.tracer, NullTracer)
        assert runtime.answerer.start_trace([]) is NULL_TRACE
        answer = runtime.answerer.answer(QUESTION, GenerationParams(max_tokens=4))
        assert answer.sources
    finally:
        runtime.close()
    time.sleep(0.5)
    assert sent(recorder) == sent_before  # (the other test's live client may still ping the server)

    # switched off by Opik's own switch even with a server configured
    off = make_settings(store.settings.DATA_DIR, OPIK_URL_OVERRIDE=recorder.url, OPIK_TRACK_DISABLE=True)
    assert isinstance(build_tracer(off), NullTracer)


def test_tracing_off_never_imports_the_opik_sdk(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from llm_engineering.infrastructure.tracing.opik import build_tracer\n"
        "from llm_engineering.settings import Settings\n"
        "tracer = build_tracer(Settings(_env_file=None))\n"
        "tracer.warm_up()\n"
        "trace = tracer.start_trace('chat', input={'question': 'q'})\n"
        "trace.span('retrieval').end({'hits': []})\n"
        "trace.end({'answer': 'a'})\n"
        "assert tracer.flush() and not tracer.enabled\n"
        "print('opik' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"

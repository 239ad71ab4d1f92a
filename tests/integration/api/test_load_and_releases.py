"""The service under load and change: concurrent requests, a full queue, a client leaving
mid-stream, and a feature release published while the server runs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai

from tests.integration.api.conftest import Corpus, Server, twin_app
from tests.integration.api.tiny_llm import GatedLLM, TinyLlama


def ask(server: Server, question: str, max_tokens: int = 8) -> str:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=120)
    stream = client.chat.completions.create(
        model="llm-twin",
        messages=[{"role": "user", "content": question}],
        max_tokens=max_tokens,
        stream=True,
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_concurrent_requests_all_get_their_own_answer(twin: Server) -> None:
    questions = ["feature stores?", "model merging?", "quantization?", "RAG inference?"] * 2
    expected = {q: ask(twin, q) for q in set(questions)}  # greedy: one answer per question
    with ThreadPoolExecutor(len(questions)) as pool:
        answers = list(pool.map(lambda q: ask(twin, q), questions))
    assert answers == [expected[q] for q in questions]


def test_a_full_queue_gets_503_and_a_freed_slot_serves_again(
    corpus: tuple[Corpus, dict], tiny_llm: TinyLlama, serve: Callable[..., Server]
) -> None:
    store, _ = corpus
    gated = GatedLLM(tiny_llm)
    server = serve(twin_app(store.settings, gated, store.embedder, max_concurrent=1, max_queue=0))
    server.wait_ready()
    gated.gate.clear()
    body = {"messages": [{"role": "user", "content": "merging?"}], "stream": True, "max_tokens": 4}
    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(lambda: server.post("/v1/chat/completions", json=body))
        assert gated.started.wait(30)  # the first request holds the only slot
        refused = server.post("/rag", json={"query": "anything"})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "busy" in refused.json()["error"]["message"]
        gated.gate.set()
        assert holder.result().status_code == 200
    assert server.post("/rag", json={"query": "quantization?"}).status_code == 200


def test_a_client_leaving_mid_stream_cancels_the_generation(
    corpus: tuple[Corpus, dict], tiny_llm: TinyLlama, serve: Callable[..., Server]
) -> None:
    store, _ = corpus
    gated = GatedLLM(tiny_llm, per_token_s=0.05)
    server = serve(
        twin_app(store.settings, gated, store.embedder, max_concurrent=1, max_queue=0, max_tokens_limit=400)
    )
    server.wait_ready()
    body = {"messages": [{"role": "user", "content": "feature stores?"}], "stream": True, "max_tokens": 400}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=60) as response:
        contents = 0
        for line in response.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                contents += 1
            if contents >= 3:
                break  # leave: closing the response drops the connection
    deadline = time.monotonic() + 20
    while not gated.ended and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gated.ended, "the generation went on after the client left"
    assert gated.ended[0]["finished"] is False and gated.ended[0]["deltas"] < 100
    # and its slot is free again (max_concurrent=1, no queue)
    assert server.post("/rag", json={"query": "quantization?"}).status_code == 200


def test_a_feature_release_published_while_serving_is_picked_up(
    tmp_path_factory, embedder, tiny_llm: TinyLlama, serve: Callable[..., Server]
) -> None:
    from tests.integration.api.conftest import ARTICLES, make_settings

    store = Corpus(make_settings(tmp_path_factory.mktemp("release") / "data"), embedder)
    store.add_articles(dict(list(ARTICLES.items())[:2]))
    server = serve(twin_app(store.settings, tiny_llm, embedder, default_max_tokens=4))
    server.wait_ready()
    question = "What does Ada Sample say about sourdough fermentation?"
    before = server.post("/rag", json={"query": question}).json()
    assert {s["author_full_name"] for s in before["sources"]} == {"Paul Iusztin"}  # no Ada yet

    links = store.add_articles(
        {
            ("Ada Sample", "sourdough"): (
                "Sourdough Fermentation Notes",
                "Sourdough fermentation relies on wild yeast and lactic acid bacteria; a warm starter "
                "ferments faster and tastes milder.",
            )
        }
    )
    after = server.post("/rag", json={"query": question}).json()
    # the new release is served, and Ada is now a known author: the self-query filters on her
    assert [s["link"] for s in after["sources"]] == [links["sourdough"]]
    assert after["sources"][0]["title"] == "Sourdough Fermentation Notes"

"""Inference benchmark: the local LLM's decode speed and batching; prints one JSON line on stdout.

Baselines are measured in the same run, on the same prompts and model (the LLM the service
serves without a registry: LLM_MODEL_PATH or SmolLM2-135M-Instruct), greedy:
(a) bare `model.generate`, batch 1, tokens/s;
(b) our engine (`LocalLLM.stream`), one request at a time: `decode_ratio` = b/a. Greedy outputs
    must be identical (`greedy_equal`). (a) is measured before and after (b), and averaged,
    because this shared machine's pace drifts between minutes;
(c) 8 concurrent streams through the same engine (continuous batching), aggregate tokens/s:
    `batch_ratio` = c/b.

Through the API (`--api`, on by default): the real service (create_app + uvicorn on a free port)
over a small real store in a temp DATA_DIR (a few handbook articles when
../shared/datasets/handbook-articles exists, else built-in ones), the official `openai` SDK as the
client, RAG on:
(d) `ratio`: tokens/s streamed through /v1/chat/completions by one client (wall time from request
    to last chunk: RAG, prefill, decode, HTTP) against bare `model.generate` (default threads) on
    the very same RAG-augmented prompts, measured before and after;
(e) `ttft_p50_ms` / `ttft_p95_ms`: request to first content chunk, RAG included;
(f) `concurrency_ratio`: aggregate tokens/s with `--clients` concurrent API clients vs one;
(g) `rag_overhead_p95_ms`: self-query + expansion + retrieval + rerank + prompt (the answerer's
    StageTimings), before generation.

Each measurement is one function returning a dict; `main()` merges them into the JSON line.

Usage: python bench/inference.py [--new-tokens 64] [--clients 8] [--quick] [--no-engine]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from loguru import logger  # noqa: E402

from llm_engineering.domain.llm import ChatMessage, GenerationParams  # noqa: E402
from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig  # noqa: E402
from llm_engineering.settings import Settings  # noqa: E402

SYSTEM = "You are a helpful writing twin. Answer in a few sentences."
QUESTIONS = [
    "What is a vector database and why does retrieval augmented generation need one?",
    "Explain LoRA fine-tuning to a software engineer.",
    "How would you design a crawler that collects a person's articles politely?",
    "What are the trade-offs of running a small language model on a laptop CPU?",
    "Why does batching requests speed up LLM inference?",
    "Give three tips for writing clear technical blog posts.",
    "What does a feature store do in an ML system?",
    "How do you evaluate a RAG system's answers?",
]


def chat(question: str) -> list[ChatMessage]:
    return [ChatMessage(role="system", content=SYSTEM), ChatMessage(role="user", content=question)]


def bare_generate(llm: LocalLLM, model: Any, questions: list[str], new_tokens: int) -> dict[str, Any]:
    """Plain `model.generate`, greedy, batch 1, one prompt after another."""
    import torch

    tokens, seconds, texts = 0, 0.0, []
    for question in questions:
        ids = torch.tensor([llm.encode_chat(chat(question))])
        with torch.inference_mode():
            start = time.perf_counter()
            out = model.generate(ids, max_new_tokens=new_tokens, do_sample=False)
            seconds += time.perf_counter() - start
        new = out[0, ids.shape[1] :]
        tokens += int(new.shape[0])
        texts.append(llm._tokenizer.decode(new, skip_special_tokens=True))
    return {"tokens_per_s": tokens / seconds, "tokens": tokens, "texts": texts}


def one_client(llm: LocalLLM, questions: list[str], new_tokens: int) -> dict[str, Any]:
    """Our engine, streaming one request at a time."""
    tokens, seconds, texts = 0, 0.0, []
    for question in questions:
        start = time.perf_counter()
        parts, usage = [], None
        for delta in llm.stream(chat(question), GenerationParams(max_tokens=new_tokens)):
            parts.append(delta.text)
            usage = delta.usage or usage
        seconds += time.perf_counter() - start
        tokens += usage.completion_tokens if usage else 0
        texts.append("".join(parts))
    return {"tokens_per_s": tokens / seconds, "tokens": tokens, "texts": texts}


def concurrent_clients(llm: LocalLLM, questions: list[str], new_tokens: int, clients: int) -> dict[str, Any]:
    """`clients` streams at once (one thread each), aggregate tokens/s over the wall time."""
    counts = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        barrier.wait()
        question = questions[i % len(questions)]
        for delta in llm.stream(chat(question), GenerationParams(max_tokens=new_tokens)):
            if delta.usage:
                counts[i] = delta.usage.completion_tokens

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    return {"tokens_per_s": sum(counts) / seconds, "tokens": sum(counts), "seconds": seconds}


def decode_and_batch(settings: Settings, new_tokens: int, clients: int) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    config = LocalLLMConfig.from_settings(settings)
    llm = LocalLLM(replace(config, max_batch=max(clients, config.max_batch)))
    llm.warm_up()
    model_dir, name = llm._resolve()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    questions = QUESTIONS[:4]
    logger.info("Benchmarking {} on {} prompts, {} new tokens", name, len(questions), new_tokens)
    one_client(llm, questions[:1], 4)  # warm-up: first-call costs out of the way
    bare_generate(llm, model, questions[:1], 4)
    before = bare_generate(llm, model, questions, new_tokens)
    ours = one_client(llm, questions, new_tokens)
    after = bare_generate(llm, model, questions, new_tokens)
    baseline = (before["tokens_per_s"] + after["tokens_per_s"]) / 2
    batch = concurrent_clients(llm, QUESTIONS, new_tokens, clients)
    llm.close()
    return {
        "model": name,
        "new_tokens": new_tokens,
        "torch_threads": torch.get_num_threads(),
        "generate_tokens_per_s": round(baseline, 2),
        "generate_before_after": [round(before["tokens_per_s"], 2), round(after["tokens_per_s"], 2)],
        "decode_tokens_per_s": round(ours["tokens_per_s"], 2),
        "decode_ratio": round(ours["tokens_per_s"] / baseline, 2),
        "greedy_equal": ours["texts"] == before["texts"],
        "clients": clients,
        "batch_tokens_per_s": round(batch["tokens_per_s"], 2),
        "batch_ratio": round(batch["tokens_per_s"] / ours["tokens_per_s"], 2),
    }


# -- through the API ---------------------------------------------------------------------------

HANDBOOK = REPO_ROOT.parent / "shared" / "datasets" / "handbook-articles"
FALLBACK_ARTICLES = [
    (
        "Ada Sample",
        "Vector databases for RAG",
        "A vector database stores embeddings of chunks. Retrieval "
        "augmented generation finds the chunks nearest to a question and puts them in the prompt.",
    ),
    (
        "Ada Sample",
        "LoRA in practice",
        "LoRA trains small low-rank adapter matrices on top of a frozen "
        "model, so fine-tuning fits on one GPU and the adapters are a few megabytes.",
    ),
    (
        "Ada Sample",
        "Polite crawlers",
        "A polite crawler respects robots.txt, spaces its requests per "
        "domain, retries transient errors with backoff and records every failure.",
    ),
    (
        "Ada Sample",
        "Small models on laptops",
        "A small language model runs on a laptop CPU; batching "
        "concurrent requests shares one read of the weights between users.",
    ),
]


def corpus_articles(limit: int) -> list[tuple[str, str, str]]:
    """(author, title, text): the first `limit` handbook articles with text, else built-in ones."""
    path = HANDBOOK / "ArticleDocument.json"
    if not path.is_file():
        return FALLBACK_ARTICLES[:limit]
    rows = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for row in rows:
        content = row.get("content") or {}
        if (content.get("Content") or "").strip() and row.get("author_full_name"):
            out.append((row["author_full_name"], content.get("Title") or "untitled", content["Content"]))
        if len(out) >= limit:
            break
    return out


def build_store(settings: Settings, articles: list[tuple[str, str, str]], embedder: Any) -> None:
    """Save the articles into the warehouse, run the feature pipeline once and publish."""
    from llm_engineering import bootstrap
    from llm_engineering.application import features
    from llm_engineering.domain.documents import ArticleDocument
    from llm_engineering.infrastructure.models.sparse import Bm25SparseEncoder

    repository = bootstrap.connect_warehouse(settings)
    try:
        for i, (author, title, text) in enumerate(articles):
            user = repository.get_or_create_user(author)
            repository.save(
                ArticleDocument(
                    content={"Title": title, "Content": text},
                    platform="medium",
                    link=f"https://medium.com/@bench/article-{i}",
                    author_id=user.id,
                    author_full_name=user.full_name,
                )
            )
        with bootstrap.Services(settings).vector_writer() as index:
            chunkers = bootstrap.build_chunkers(settings, embedder)
            features.run_feature_pipeline(repository, index, lambda: chunkers, embedder, Bm25SparseEncoder())
            index.publish(optimize=False)
    finally:
        repository.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(settings: Settings, llm: Any, embedder: Any, clients: int) -> Iterator[tuple[str, Any]]:
    """The real app under uvicorn on a free port: (base URL, the loaded TwinRuntime)."""
    import httpx
    import uvicorn

    from llm_engineering.infrastructure.api.app import create_app
    from llm_engineering.infrastructure.api.config import load_inference_config
    from llm_engineering.infrastructure.api.runtime import build_runtime

    base = load_inference_config(REPO_ROOT / "configs" / "inference.yaml")
    service = base.service.model_copy(update={"max_concurrent": max(clients, base.service.max_concurrent)})
    config = base.model_copy(update={"service": service})
    app = create_app(
        settings, config, runtime_factory=lambda: build_runtime(settings, config, llm=llm, embedder=embedder)
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(url + "/health", timeout=10).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the inference service did not become ready")
            time.sleep(0.1)
        yield url, app.state.serving.runtime()
    finally:
        server.should_exit = True
        thread.join(60)


def api_stream(url: str, question: str, new_tokens: int) -> dict[str, float]:
    """One streamed chat completion through the official SDK: ttft, tokens, seconds."""
    from openai import OpenAI

    client = OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
    start = time.perf_counter()
    ttft, tokens = None, 0
    stream = client.chat.completions.create(
        model="llm-twin",
        messages=[{"role": "user", "content": question}],
        stream=True,
        max_tokens=new_tokens,
        temperature=0.0,
        stream_options={"include_usage": True},
    )
    for event in stream:
        if ttft is None and event.choices and event.choices[0].delta.content:
            ttft = time.perf_counter() - start
        if event.usage is not None:
            tokens = event.usage.completion_tokens
    seconds = time.perf_counter() - start
    return {"ttft": ttft if ttft is not None else seconds, "tokens": tokens, "seconds": seconds}


def prepared_prompts(
    runtime: Any, questions: list[str], new_tokens: int
) -> tuple[list[list[int]], list[float]]:
    """The RAG-augmented prompt ids the service decodes, and the RAG overhead (ms) of each."""
    llm = runtime.llm
    prompts, overheads = [], []
    for question in questions:
        prepared = runtime.answerer.prepare(
            [ChatMessage(role="user", content=question)], max_tokens=new_tokens
        )
        prompts.append(llm.encode_chat(prepared.messages))
        overheads.append(prepared.timings.total_ms)
    return prompts, overheads


def generate_on(model: Any, prompts: list[list[int]], new_tokens: int) -> float:
    """Bare `model.generate` tokens/s over these prompt ids, greedy, batch 1."""
    import torch

    tokens, seconds = 0, 0.0
    for ids in prompts:
        with torch.inference_mode():
            start = time.perf_counter()
            out = model.generate(torch.tensor([ids]), max_new_tokens=new_tokens, do_sample=False)
            seconds += time.perf_counter() - start
        tokens += int(out.shape[1]) - len(ids)
    return tokens / seconds


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def through_api(
    settings: Settings,
    llm: LocalLLM,
    model: Any,
    questions: list[str],
    new_tokens: int,
    clients: int,
    articles: list[tuple[str, str, str]],
) -> dict[str, Any]:
    """ratio, ttft, concurrency_ratio and rag_overhead through the real service (see the docstring)."""
    from llm_engineering import bootstrap

    embedder = bootstrap.build_embedder(settings)
    embedder.warm_up()
    build_store(settings, articles, embedder)
    with serve(settings, llm, embedder, clients) as (url, runtime):
        prompts, overheads = prepared_prompts(runtime, questions, new_tokens)
        api_stream(url, questions[0], 4)  # warm-up
        before = generate_on(model, prompts, new_tokens)
        single = [api_stream(url, q, new_tokens) for q in questions]
        after = generate_on(model, prompts, new_tokens)
        one_tps = sum(r["tokens"] for r in single) / sum(r["seconds"] for r in single)
        results: list[dict[str, float]] = [{} for _ in range(clients)]
        barrier = threading.Barrier(clients + 1)

        def client(i: int) -> None:
            barrier.wait()
            results[i] = api_stream(url, questions[i % len(questions)], new_tokens)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        many_tps = sum(r["tokens"] for r in results) / wall
        _, more_overheads = prepared_prompts(runtime, questions, new_tokens)
    baseline = (before + after) / 2
    ttfts = [r["ttft"] * 1000 for r in single]
    rag = overheads + more_overheads
    return {
        "api_questions": len(questions),
        "api_prompt_tokens_mean": round(sum(map(len, prompts)) / len(prompts), 1),
        "api_generate_tokens_per_s": round(baseline, 2),
        "api_generate_before_after": [round(before, 2), round(after, 2)],
        "api_tokens_per_s": round(one_tps, 2),
        "ratio": round(one_tps / baseline, 2),
        "ttft_p50_ms": round(percentile(ttfts, 50), 1),
        "ttft_p95_ms": round(percentile(ttfts, 95), 1),
        "api_concurrent_tokens_per_s": round(many_tps, 2),
        "concurrency_ratio": round(many_tps / one_tps, 2),
        "rag_overhead_p50_ms": round(percentile(rag, 50), 1),
        "rag_overhead_p95_ms": round(percentile(rag, 95), 1),
    }


def api_figures(settings: Settings, new_tokens: int, clients: int, questions: list[str]) -> dict[str, Any]:
    """Loads the LLM the service serves and the plain transformers model; runs `through_api`."""
    import torch
    from transformers import AutoModelForCausalLM

    config = LocalLLMConfig.from_settings(settings)
    llm = LocalLLM(replace(config, max_batch=max(clients, config.max_batch)))
    llm.warm_up()
    model = AutoModelForCausalLM.from_pretrained(llm._resolve()[0], dtype=torch.float32).eval()
    try:
        return through_api(settings, llm, model, questions, new_tokens, clients, corpus_articles(12))
    finally:
        llm.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a smoke test: 8 tokens, 2 prompts, 2 clients")
    parser.add_argument("--no-engine", action="store_true", help="skip the in-process engine figures")
    parser.add_argument("--no-api", action="store_true", help="skip the through-the-API figures")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="INFO")
    new_tokens, clients = (8, 2) if args.quick else (args.new_tokens, args.clients)
    questions = QUESTIONS[:2] if args.quick else QUESTIONS[:4]
    base = Settings(LLM_BACKEND="local")
    result: dict[str, Any] = {"llm_dtype": base.LLM_DTYPE}
    if not args.no_engine:
        result.update(decode_and_batch(base, new_tokens, clients))
    if not args.no_api:
        with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
            models = base.MODEL_CACHE_DIR or base.cache_dir / "models"  # the converted model, reused
            settings = base.model_copy(update={"DATA_DIR": Path(tmp) / "data", "MODEL_CACHE_DIR": models})
            result.update(api_figures(settings, new_tokens, clients, questions))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

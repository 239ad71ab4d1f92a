"""Inference benchmark: the local LLM's decode speed and batching; prints one JSON line on stdout.

Baselines are measured in the same run, on the same prompts and model (the LLM the service
serves without a registry: LLM_MODEL_PATH or SmolLM2-135M-Instruct), greedy:
(a) bare `model.generate` (float32, every core, batch 1), tokens/s, in a process of its own so
    that nothing of ours shares the CPU's OpenMP pools with it; measured before and after (b) and
    averaged, because a shared machine's pace drifts between minutes;
(b) our engine (`LocalLLM.stream`, LLM_DTYPE as configured), one request at a time:
    `decode_ratio` = b/a; `greedy_identical` counts answers equal to (a)'s (all of them in
    float32; int8 answers differ);
(c) 8 concurrent streams through the same engine (continuous batching), aggregate tokens/s:
    `batch_ratio` = c/b.

Through the API (`--api`, on by default): the real service (create_app + uvicorn on a free port)
over a small real store in a temp DATA_DIR (a few handbook articles when
../shared/datasets/handbook-articles exists, else built-in ones), the official `openai` SDK as the
client, in a client process of its own (as real clients are), RAG on:
(d) `ratio`: tokens/s streamed through /v1/chat/completions by one client (wall time from request
    to last chunk: RAG, prefill, decode, HTTP) against bare `model.generate` on the very same
    RAG-augmented prompts, measured before and after;
(e) `ttft_p50_ms` / `ttft_p95_ms`: request to first content chunk, RAG included;
(f) `concurrency_ratio`: aggregate tokens/s with `--clients` concurrent API clients vs one client
    asking in turn, in `--rounds` alternated rounds (a burst is one ~15 s sample and this
    machine's pace drifts by a third between minutes): the median of the rounds' ratios, each
    round's in `concurrency_ratio_rounds`; for the median round, `burst_prefill_share`: the part
    of the burst's wall time the engine spent prefilling prompts (one at a time: a prompt's
    prefill is compute-bound and gains nothing from batching), and `client_cpu_s`: the CPU the
    client process took meanwhile, from the same cores;
(g) `rag_overhead_p95_ms`: self-query + expansion + retrieval + rerank + prompt (the answerer's
    StageTimings), before generation.

Each measurement is one function returning a dict; `main()` merges them into the JSON line.

Usage: python bench/inference.py [--new-tokens N] [--clients 8] [--rounds 3] [--quick] [--no-engine]
(N defaults to the service's own default answer length, `default_max_tokens` in
configs/inference.yaml: what a client that sends no max_tokens gets)
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from loguru import logger  # noqa: E402

from llm_engineering.domain.llm import ChatMessage, GenerationParams  # noqa: E402
from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig  # noqa: E402
from llm_engineering.settings import Settings  # noqa: E402

T = TypeVar("T")

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


def bare_generate(model_dir: Path, prompts: list[list[int]], new_tokens: int) -> dict[str, Any]:
    """Plain `model.generate` (float32, greedy, batch 1, every core) over these prompt ids, in a
    fresh process: nothing else of ours runs there, so the baseline gets the machine as a user of
    bare transformers would (in this process our decode thread's OpenMP pool would slow it)."""
    spec = {"model_dir": str(model_dir), "prompts": prompts, "new_tokens": new_tokens}
    return run_job("--bare-generate-job", spec, "the bare generate baseline")


def run_job(flag: str, spec: dict[str, Any], what: str) -> dict[str, Any]:
    """Run this script with `flag` on `spec` (a JSON file) in a fresh process; its last stdout
    line, parsed. Baselines and clients run this way so they share no thread pools or GIL with
    the engine under test."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="bench-job-") as tmp:
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps(spec))
        done = subprocess.run(
            [sys.executable, __file__, flag, str(job)], capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bare_generate_job(path: Path) -> None:
    """The baseline's own process: load the model, warm up, time `model.generate`, print JSON."""
    import torch
    from transformers import AutoModelForCausalLM

    job = json.loads(path.read_text())
    model = AutoModelForCausalLM.from_pretrained(job["model_dir"], dtype=torch.float32).eval()
    tokens, seconds, outputs = 0, 0.0, []
    with torch.inference_mode():
        model.generate(torch.tensor([job["prompts"][0]]), max_new_tokens=4, do_sample=False)  # warm-up
        for ids in job["prompts"]:
            start = time.perf_counter()
            out = model.generate(torch.tensor([ids]), max_new_tokens=job["new_tokens"], do_sample=False)
            seconds += time.perf_counter() - start
            new = out[0, len(ids) :].tolist()
            tokens += len(new)
            outputs.append(new)
    print(json.dumps({"tokens_per_s": tokens / seconds, "tokens": tokens, "outputs": outputs}))


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


def run_together(count: int, work: Callable[[int], T]) -> tuple[list[T], float]:
    """`work(0..count-1)` on one thread each, released at once; results and the wall seconds."""
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count + 1)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return results, time.perf_counter() - start


def concurrent_clients(llm: LocalLLM, questions: list[str], new_tokens: int, clients: int) -> dict[str, Any]:
    """`clients` streams at once (one thread each), aggregate tokens/s over the wall time."""

    def client(i: int) -> int:
        tokens = 0
        for delta in llm.stream(chat(questions[i % len(questions)]), GenerationParams(max_tokens=new_tokens)):
            if delta.usage:
                tokens = delta.usage.completion_tokens
        return tokens

    counts, seconds = run_together(clients, client)
    return {"tokens_per_s": sum(counts) / seconds, "tokens": sum(counts), "seconds": seconds}


def decode_and_batch(settings: Settings, new_tokens: int, clients: int) -> dict[str, Any]:
    config = LocalLLMConfig.from_settings(settings)
    llm = LocalLLM(replace(config, max_batch=max(clients, config.max_batch)))
    llm.warm_up()
    model_dir, name = llm._resolve()
    questions = QUESTIONS[:4]
    prompts = [llm.encode_chat(chat(q)) for q in questions]
    logger.info("Benchmarking {} on {} prompts, {} new tokens", name, len(questions), new_tokens)
    one_client(llm, questions[:1], 4)  # warm-up: first-call costs out of the way
    before = bare_generate(model_dir, prompts, new_tokens)
    ours = one_client(llm, questions, new_tokens)
    after = bare_generate(model_dir, prompts, new_tokens)
    baseline = (before["tokens_per_s"] + after["tokens_per_s"]) / 2
    bare_texts = [llm._tokenizer.decode(ids, skip_special_tokens=True) for ids in before["outputs"]]
    identical = sum(ours_text == bare for ours_text, bare in zip(ours["texts"], bare_texts, strict=True))
    batch = concurrent_clients(llm, QUESTIONS, new_tokens, clients)
    threads = llm._engine.threads_in_use if llm._engine else 0
    llm.close()
    return {
        "llm_dtype": llm.dtype,
        "model": name,
        "new_tokens": new_tokens,
        "decode_threads": threads,
        "generate_tokens_per_s": round(baseline, 2),
        "generate_before_after": [round(before["tokens_per_s"], 2), round(after["tokens_per_s"], 2)],
        "decode_tokens_per_s": round(ours["tokens_per_s"], 2),
        "decode_ratio": round(ours["tokens_per_s"] / baseline, 2),
        "greedy_identical": f"{identical}/{len(questions)}",
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


def openai_client(url: str) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)


def api_stream(client: Any, question: str, new_tokens: int) -> dict[str, float]:
    """One streamed chat completion through the official SDK: ttft, tokens, seconds."""
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


def api_clients(url: str, questions: list[str], new_tokens: int, *, together: bool) -> dict[str, Any]:
    """Stream `questions` from a separate client process, like real clients: one after another
    or (`together`) all at once, one thread and one SDK client each. Its JSON: per-request
    results, the wall time and the client process's CPU seconds while it was timed.
    (In this process the clients' Python would compete with the server's for the GIL.)"""
    spec = {"url": url, "questions": questions, "new_tokens": new_tokens, "together": together}
    return run_job("--client-job", spec, "the API clients")


def client_job(path: Path) -> None:
    """The clients' own process: see `api_clients`. The SDK is imported and every client built
    and connected (GET /v1/models) before the clock starts: the clients' own start-up would
    otherwise take the CPU the server is being timed on."""
    job = json.loads(path.read_text())
    url, questions, new_tokens = job["url"], job["questions"], job["new_tokens"]
    clients = [openai_client(url) for _ in questions]
    for client in clients:
        client.models.list()
    cpu = time.process_time()
    if not job["together"]:
        start = time.perf_counter()
        results = [api_stream(clients[0], q, new_tokens) for q in questions]
        wall = time.perf_counter() - start
    else:
        results, wall = run_together(
            len(questions), lambda i: api_stream(clients[i], questions[i], new_tokens)
        )
    print(json.dumps({"results": results, "wall": wall, "client_cpu_s": time.process_time() - cpu}))


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


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def through_api(
    settings: Settings,
    llm: LocalLLM,
    questions: list[str],
    new_tokens: int,
    clients: int,
    articles: list[tuple[str, str, str]],
    rounds: int,
) -> dict[str, Any]:
    """ratio, ttft, concurrency_ratio and rag_overhead through the real service (see the docstring)."""
    from llm_engineering import bootstrap

    embedder = bootstrap.build_embedder(settings)
    embedder.warm_up()
    build_store(settings, articles, embedder)
    with serve(settings, llm, embedder, clients) as (url, runtime):
        prompts, overheads = prepared_prompts(runtime, questions, new_tokens)
        api_stream(openai_client(url), questions[0], 4)  # warm-up
        model_dir = llm._resolve()[0]
        before = bare_generate(model_dir, prompts, new_tokens)["tokens_per_s"]
        singles, bursts = [], []
        for _ in range(rounds):  # alternated, so that a slow minute hits both sides of a round
            singles.append(one_by_one(url, questions, new_tokens))
            bursts.append(all_at_once(url, questions, new_tokens, clients, llm._engine))
        after = bare_generate(model_dir, prompts, new_tokens)["tokens_per_s"]
        _, more_overheads = prepared_prompts(runtime, questions, new_tokens)
    baseline = (before + after) / 2
    one_tps = sum(s["tokens"] for s in singles) / sum(s["seconds"] for s in singles)
    ttfts = [t * 1000 for s in singles for t in s["ttfts"]]
    per_round = [b["tokens_per_s"] / s["tokens_per_s"] for s, b in zip(singles, bursts, strict=True)]
    middle = bursts[per_round.index(statistics.median_low(per_round))]
    rag = overheads + more_overheads
    return {
        "api_questions": len(questions),
        "api_rounds": rounds,
        "api_prompt_tokens_mean": round(sum(map(len, prompts)) / len(prompts), 1),
        "api_generate_tokens_per_s": round(baseline, 2),
        "api_generate_before_after": [round(before, 2), round(after, 2)],
        "api_tokens_per_s": round(one_tps, 2),
        "ratio": round(one_tps / baseline, 2),
        "ttft_p50_ms": round(percentile(ttfts, 50), 1),
        "ttft_p95_ms": round(percentile(ttfts, 95), 1),
        "api_concurrent_tokens_per_s": round(statistics.median(b["tokens_per_s"] for b in bursts), 2),
        "concurrency_ratio": round(statistics.median(per_round), 2),
        "concurrency_ratio_rounds": [round(r, 2) for r in per_round],
        "burst_prefill_share": round(middle["prefill_share"], 2),
        "client_cpu_s": round(middle["client_cpu_s"], 2),
        "rag_overhead_p50_ms": round(percentile(rag, 50), 1),
        "rag_overhead_p95_ms": round(percentile(rag, 95), 1),
    }


def one_by_one(url: str, questions: list[str], new_tokens: int) -> dict[str, Any]:
    """One client asking `questions` in turn: tokens, seconds (request to last chunk), ttfts."""
    results = api_clients(url, questions, new_tokens, together=False)["results"]
    tokens, seconds = sum(r["tokens"] for r in results), sum(r["seconds"] for r in results)
    ttfts = [r["ttft"] for r in results]
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds, "ttfts": ttfts}


def all_at_once(url: str, questions: list[str], new_tokens: int, clients: int, engine: Any) -> dict[str, Any]:
    """`clients` clients at once (cycling through `questions`): aggregate tokens/s over the wall
    time, the share of it the engine spent prefilling, and the client process's CPU seconds."""
    prefill_before = engine.prefill_s if engine else 0.0
    asked = [questions[i % len(questions)] for i in range(clients)]
    burst = api_clients(url, asked, new_tokens, together=True)
    prefill_s = (engine.prefill_s if engine else 0.0) - prefill_before
    wall = burst["wall"]
    return {
        "tokens_per_s": sum(r["tokens"] for r in burst["results"]) / wall,
        "prefill_share": prefill_s / wall,
        "client_cpu_s": burst["client_cpu_s"],
    }


def api_figures(
    settings: Settings, new_tokens: int, clients: int, questions: list[str], rounds: int
) -> dict[str, Any]:
    """Loads the LLM the service serves; runs `through_api`."""
    config = LocalLLMConfig.from_settings(settings)
    llm = LocalLLM(replace(config, max_batch=max(clients, config.max_batch)))
    llm.warm_up()
    try:
        return {"llm_dtype": llm.dtype} | through_api(
            settings, llm, questions, new_tokens, clients, corpus_articles(12), rounds
        )
    finally:
        llm.close()


def default_answer_tokens() -> int:
    from llm_engineering.infrastructure.api.config import load_inference_config

    return load_inference_config(REPO_ROOT / "configs" / "inference.yaml").service.default_max_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--new-tokens", type=int, default=None, help="answer length (default: the service's)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="API rounds (one client, then all at once)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 8 tokens, 2 prompts, 2 clients")
    parser.add_argument("--no-engine", action="store_true", help="skip the in-process engine figures")
    parser.add_argument("--no-api", action="store_true", help="skip the through-the-API figures")
    parser.add_argument("--bare-generate-job", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--client-job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_generate_job:
        bare_generate_job(args.bare_generate_job)
        return
    if args.client_job:
        client_job(args.client_job)
        return
    from llm_engineering.infrastructure.compute import single_threaded_torch

    single_threaded_torch()  # this thread only loads and embeds: the decode loop owns the cores
    logger.remove()
    logger.add(sys.stderr, level="INFO")
    new_tokens, clients = (8, 2) if args.quick else (args.new_tokens or default_answer_tokens(), args.clients)
    questions = QUESTIONS[:2] if args.quick else QUESTIONS[:4]
    base = Settings(LLM_BACKEND="local")
    result: dict[str, Any] = {}
    if not args.no_engine:
        result.update(decode_and_batch(base, new_tokens, clients))
    if not args.no_api:
        with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
            models = base.MODEL_CACHE_DIR or base.cache_dir / "models"  # the converted model, reused
            settings = base.model_copy(update={"DATA_DIR": Path(tmp) / "data", "MODEL_CACHE_DIR": models})
            rounds = 1 if args.quick else args.rounds
            result.update(api_figures(settings, new_tokens, clients, questions, rounds))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Inference benchmark: the local LLM's decode speed and batching; prints one JSON line on stdout.

Baselines are measured in the same run, on the same prompts and model (the LLM the service
serves without a registry: LLM_MODEL_PATH or SmolLM2-135M-Instruct), greedy:
(a) bare `model.generate`, batch 1, tokens/s;
(b) our engine (`LocalLLM.stream`), one request at a time: `decode_ratio` = b/a. Greedy outputs
    must be identical (`greedy_equal`). (a) is measured before and after (b), and averaged,
    because this shared machine's pace drifts between minutes;
(c) 8 concurrent streams through the same engine (continuous batching), aggregate tokens/s:
    `batch_ratio` = c/b.

Each measurement is one function returning a dict; `main()` merges them into the JSON line, so
the service's figures (through the API: ttft, RAG overhead) can be added as further functions.

Usage: python bench/inference.py [--new-tokens 64] [--clients 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="INFO")
    settings = Settings(LLM_BACKEND="local")
    result: dict[str, Any] = {}
    result.update(decode_and_batch(settings, args.new_tokens, args.clients))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

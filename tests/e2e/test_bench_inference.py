"""The inference benchmark's through-the-API functions, on a tiny Llama built in the test: the real
service under uvicorn over a real embedded store, the official `openai` SDK as the client."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO_ROOT
from tests.unit.llm.conftest import build_tiny_model

pytestmark = pytest.mark.slow


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_inference", REPO_ROOT / "bench" / "inference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_through_api_reports_every_figure(tmp_path: Path) -> None:
    """Clients and the bare-generate baseline run in their own processes, as in the real bench."""
    from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig
    from llm_engineering.settings import Settings

    bench = load_bench()
    model_dir = build_tiny_model(tmp_path / "tiny")
    settings = Settings(_env_file=None, DATA_DIR=tmp_path / "data", OPIK_TRACK_DISABLE=True)
    llm = LocalLLM(
        LocalLLMConfig(
            model_path=model_dir, device="cpu", dtype="int8", max_batch=2, max_seq_len=512, threads=1
        )
    )
    llm.warm_up()
    engine = llm._engine  # the service closes the LLM when it stops
    try:
        report = bench.through_api(
            settings, llm, bench.QUESTIONS[:2], 24, 2, bench.FALLBACK_ARTICLES[:2], rounds=2
        )
    finally:
        llm.close()

    assert report["api_questions"] == 2 and report["api_rounds"] == 2
    # the reported concurrency ratio is the median of the rounds' own ratios
    rounds = report["concurrency_ratio_rounds"]
    assert len(rounds) == 2 and abs(report["concurrency_ratio"] - (rounds[0] + rounds[1]) / 2) <= 0.01
    for key in ("ratio", "ttft_p50_ms", "ttft_p95_ms", "concurrency_ratio", "rag_overhead_p95_ms"):
        assert report[key] > 0, (key, report)
    assert report["ttft_p50_ms"] <= report["ttft_p95_ms"]
    assert report["rag_overhead_p50_ms"] <= report["rag_overhead_p95_ms"]
    # RAG added the retrieved chunks to the prompt the service decodes
    assert report["api_prompt_tokens_mean"] > 40
    assert engine.max_batch_seen == 2  # the two concurrent clients shared one batch
    # the burst's prefill time, from the engine's own clock, is a part of the burst's wall time
    assert 0 < report["burst_prefill_share"] <= 1
    assert engine.prefill_tokens >= 2 * report["api_prompt_tokens_mean"]


def test_corpus_articles_falls_back_to_builtin_ones() -> None:
    bench = load_bench()
    articles = bench.corpus_articles(3)
    assert len(articles) == 3 and all(author and title and text for author, title, text in articles)

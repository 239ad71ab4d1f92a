"""`rag-eval` end to end through the CLI: ZenML pipeline `rag_evaluation` on a small real store with
a tiny Llama saved as a transformers folder (LLM_MODEL_PATH), its figures in ZenML metadata, and
every answer plus the summary sent to a local stand-in Opik server."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.integration.api.conftest import Corpus
from tests.integration.api.tiny_llm import TinyLlama
from tests.integration.tracing.recorder import start_recorder

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_rag_eval_pipeline_logs_answer_metrics_to_zenml_and_opik(
    corpus: tuple[Corpus, dict[str, str]], tiny_llm: TinyLlama, tmp_path: Path
) -> None:
    from zenml.client import Client

    store, links = corpus
    model_dir = tmp_path / "tiny-twin"
    tiny_llm.model.save_pretrained(model_dir)
    tiny_llm.tokenizer.save_pretrained(model_dir)
    eval_set = tmp_path / "questions.jsonl"
    questions = [
        ("What does Paul Iusztin say about feature stores?", "feature-stores"),
        ("How does RAG retrieve chunks from the vector database?", "rag-inference"),
        ("Which merge methods does mergekit support?", "model-merging"),
        ("Why quantize weights to 4-bit integers?", "quantization"),  # beyond the limit
    ]
    eval_set.write_text(
        "\n".join(json.dumps({"query": q, "relevant_links": [links[slug]]}) for q, slug in questions)
    )
    config = tmp_path / "rag_evaluation.yaml"
    parameters = {"eval_set": str(eval_set), "limit": 3, "max_tokens": 8}
    config.write_text(yaml.safe_dump({"parameters": parameters}))

    opik = start_recorder()
    try:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OPIK_")},
            "DATA_DIR": str(store.settings.DATA_DIR),
            "LLM_MODEL_PATH": str(model_dir),
            "LLM_MAX_BATCH": "2",
            "LOG_LEVEL": "INFO",
            "OPIK_URL_OVERRIDE": opik.url,
            "OPIK_PROJECT_NAME": "rag-eval-tests",
            "OPIK_SENTRY_ENABLE": "false",
            "OPIK_ANALYTICS_ENABLE": "false",
        }
        done = subprocess.run(
            [sys.executable, "-m", "tools.run", "rag-eval", "--config", str(config)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=800,
        )
        assert done.returncode == 0, done.stderr[-4000:]
    finally:
        opik.close()

    printed = next(line for line in done.stdout.splitlines() if line.startswith("rag-eval: "))
    metrics = ast.literal_eval(printed.removeprefix("rag-eval: "))
    assert metrics["questions"] == 3 and metrics["failed"] == 0
    # the sources given to the model always include the relevant article on this small store
    assert metrics["source_hit_rate"] == 1.0
    for rate in ("citation_hit_rate", "grounded_rate", "citing_rate"):
        assert 0.0 <= metrics[rate] <= 1.0
    assert 0 < metrics["latency_p50_ms"] <= metrics["latency_p95_ms"]
    assert 0 < metrics["rag_p50_ms"] <= metrics["latency_p50_ms"]
    assert 0 < metrics["completion_tokens_mean"] <= 8

    # ZenML: the run's metadata and artifacts hold the same figures and every answer
    run = Client().get_pipeline("rag_evaluation").last_run
    assert run.status == "completed"
    assert run.steps["score_answers"].run_metadata["rag_eval"] == metrics
    assert run.steps["answer_questions"].run_metadata["model"] == "tiny-twin"
    answers = run.steps["answer_questions"].outputs["rag_answers"][0].load()
    assert [a.query for a in answers] == [q for q, _ in questions[:3]]
    assert all(links[slug] in a.given_links for a, (_, slug) in zip(answers, questions, strict=False))

    # Opik: one trace per answered question, with its stages, and the summary with the figures
    traces = opik.traces()
    assert sorted(t["name"] for t in traces) == ["rag", "rag", "rag", "rag_evaluation"]
    assert {t["project_name"] for t in traces} == {"rag-eval-tests"}
    summary = next(t for t in traces if t["name"] == "rag_evaluation")
    assert summary["output"] == metrics and summary["tags"] == ["evaluation"]
    rag_ids = {t["id"] for t in traces if t["name"] == "rag"}
    generations = [s for s in opik.spans() if s["name"] == "generation" and s["trace_id"] in rag_ids]
    assert len(generations) == 3 and all(s["model"] == "tiny-twin" for s in generations)

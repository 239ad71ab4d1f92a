"""Feature-pipeline benchmark on the handbook corpus; prints one JSON line on stdout.

(a) raw `SentenceTransformer.encode` chunks/s on the pipeline's own chunks: this CPU's limit.
(b) the whole pipeline (plan, clean, chunk, embed, BM25, upsert, publish) in chunks/s; ratio = b/a.
(c) incremental = a no-change re-run's time / the full run's time.
(d) retrieval latency p50/p95 over 200 queries on the corpus, and on a synthetic 100k-chunk store.
(e) the faster CPU backends (ONNX int8, torch bf16): encode speed-up over torch fp32 on the
    same chunks, and retrieval quality on the eval set for each backend and mode.

Usage: python bench/features.py [--corpus DIR] [--synthetic 100000] [--skip-backends]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from loguru import logger  # noqa: E402

from llm_engineering import bootstrap  # noqa: E402
from llm_engineering.application import features  # noqa: E402
from llm_engineering.application.rag import evaluation  # noqa: E402
from llm_engineering.application.rag.retriever import ContextRetriever  # noqa: E402
from llm_engineering.domain.documents import ArticleDocument, UserDocument  # noqa: E402
from llm_engineering.infrastructure.models.sparse import Bm25SparseEncoder  # noqa: E402
from llm_engineering.settings import Settings  # noqa: E402

DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "datasets" / "handbook-articles"
EVAL_SET = REPO_ROOT / "eval" / "handbook_retrieval.jsonl"


def load_corpus(settings: Settings, corpus: Path) -> None:
    repository = bootstrap.connect_warehouse(settings)
    try:
        for doc_type in (UserDocument, ArticleDocument):
            rows = json.loads((corpus / f"{doc_type.__name__}.json").read_text(encoding="utf-8"))
            repository.import_raw(doc_type, rows)
    finally:
        repository.close()


def run_pipeline(settings: Settings, embedder, *, full: bool) -> tuple[float, features.LoadReport]:
    """The same use cases the ZenML steps call, timed end to end (including publish)."""
    repository = bootstrap.connect_warehouse(settings)
    started = time.perf_counter()
    try:
        with bootstrap.Services(settings).vector_writer() as index:
            report = features.run_feature_pipeline(
                repository,
                index,
                lambda: bootstrap.build_chunkers(settings, embedder),
                embedder,
                Bm25SparseEncoder(),
                full=full,
            )
            if report.changed:
                index.publish()
    finally:
        repository.close()
    return time.perf_counter() - started, report


def pipeline_chunks(settings: Settings, embedder) -> list[str]:
    """The pipeline's own chunk texts for the corpus (cleaned and chunked exactly as it does)."""
    repository = bootstrap.connect_warehouse(settings)
    try:
        cleaned = features.clean_documents(repository.iter_all(ArticleDocument))
    finally:
        repository.close()
    chunkers = bootstrap.build_chunkers(settings, embedder)
    return [c.content for doc in cleaned.documents for c in chunkers[doc.category].chunk(doc)]


def encode_rate(embedder, texts: list[str]) -> float:
    embedder.embed(texts[:16], show_progress_bar=False)  # warm-up
    started = time.perf_counter()
    embedder.embed(texts, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - started)


def raw_encode_rate(model_path: str, texts: list[str], batch_size: int) -> float:
    """Plain sentence-transformers, no project code: the ceiling for (b)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")
    model.encode(texts[:16], batch_size=batch_size)
    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - started)


def retrieval_latency(settings: Settings, embedder, queries: list[str], mode: str) -> dict[str, float]:
    with bootstrap.Services(settings).vector_reader() as index:
        retriever = ContextRetriever(index, embedder, _sparse_for(mode))
        retriever.retrieve(queries[0], 5)
        timings = []
        for query in queries:
            started = time.perf_counter()
            retriever.retrieve(query, 5)
            timings.append((time.perf_counter() - started) * 1000)
    return _percentiles(timings)


def eval_metrics(settings: Settings, embedder, mode: str) -> dict[str, float]:
    queries = evaluation.load_eval_set(EVAL_SET)
    with bootstrap.Services(settings).vector_reader() as index:
        report = evaluation.evaluate(ContextRetriever(index, embedder, _sparse_for(mode)), queries)
    metrics = report.metrics()
    return {k: metrics[k] for k in ("hit@1", "hit@5", "mrr@10", "recall@5")}


def _sparse_for(mode: str) -> Bm25SparseEncoder | None:
    """ "hybrid" searches dense + BM25; "dense" needs no sparse encoder."""
    return Bm25SparseEncoder() if mode == "hybrid" else None


def _percentiles(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
    }


def bench_queries(chunks: list[str], n: int = 200) -> list[str]:
    """The eval set's questions, then first sentences of evenly spaced chunks, up to n."""
    queries = [q.query for q in evaluation.load_eval_set(EVAL_SET)]
    step = max(1, len(chunks) // n)
    for text in chunks[::step]:
        if len(queries) >= n:
            break
        line = text.strip().split("\n")[-1][:200]
        if len(line.split()) >= 4:
            queries.append(line)
    return queries[:n]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--synthetic", type=int, default=100_000, help="points in the synthetic store (0: skip)"
    )
    parser.add_argument("--skip-backends", action="store_true", help="skip onnx-int8 and torch-bf16")
    args = parser.parse_args()
    if not (args.corpus / "ArticleDocument.json").exists():
        sys.exit(f"error: corpus {args.corpus} not found: pass --corpus DIR (a warehouse export)")
    logger.remove()
    logger.add(sys.stderr, level="WARNING")

    result: dict = {"corpus_documents": None}
    with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
        torch_settings = Settings(_env_file=None, DATA_DIR=Path(tmp) / "torch")
        load_corpus(torch_settings, args.corpus)
        embedder = bootstrap.build_embedder(torch_settings)
        embedder.warm_up()
        texts = pipeline_chunks(torch_settings, embedder)

        # The CPU's pace drifts on a shared machine: the baseline is the mean of a run just
        # before and one just after the pipeline.
        raw_before = raw_encode_rate(embedder.model_id, texts, torch_settings.EMBEDDING_BATCH_SIZE)
        full_s, report = run_pipeline(torch_settings, embedder, full=True)
        raw_after = raw_encode_rate(embedder.model_id, texts, torch_settings.EMBEDDING_BATCH_SIZE)
        raw = (raw_before + raw_after) / 2
        noop_s, noop = run_pipeline(torch_settings, embedder, full=False)
        assert noop.chunks == 0 and noop.unchanged_skipped == sum(report.documents_per_category.values())
        result.update(
            corpus_documents=sum(report.documents_per_category.values()),
            chunks=report.chunks,
            tokens_per_chunk_p50=report.tokens_per_chunk_p50,
            tokens_per_chunk_p95=report.tokens_per_chunk_p95,
            raw_encode_chunks_per_s=round(raw, 2),
            raw_encode_before_after=[round(raw_before, 2), round(raw_after, 2)],
            pipeline_chunks_per_s=round(report.chunks / full_s, 2),
            ratio=round(report.chunks / full_s / raw, 3),
            full_run_s=round(full_s, 2),
            noop_run_s=round(noop_s, 3),
            incremental=round(noop_s / full_s, 4),
        )
        queries = bench_queries(texts)
        result["retrieval_corpus_dense"] = retrieval_latency(torch_settings, embedder, queries, "dense")
        result["retrieval_corpus_hybrid"] = retrieval_latency(torch_settings, embedder, queries, "hybrid")
        quality = {
            "torch/dense": eval_metrics(torch_settings, embedder, "dense"),
            "torch/hybrid": eval_metrics(torch_settings, embedder, "hybrid"),
        }

        if not args.skip_backends:
            result["backends"] = {}
            for backend in ("onnx-int8", "torch-bf16"):
                settings = Settings(_env_file=None, DATA_DIR=Path(tmp) / backend, EMBEDDING_BACKEND=backend)
                load_corpus(settings, args.corpus)
                fast = bootstrap.build_embedder(settings)
                fast.warm_up()
                torch_rate, fast_rate = encode_rate(embedder, texts), encode_rate(fast, texts)
                run_pipeline(settings, fast, full=True)
                result["backends"][backend] = {
                    "torch_chunks_per_s": round(torch_rate, 2),
                    "chunks_per_s": round(fast_rate, 2),
                    "speedup": round(fast_rate / torch_rate, 2),
                    "retrieval_dense": retrieval_latency(settings, fast, queries, "dense"),
                }
                quality[f"{backend}/dense"] = eval_metrics(settings, fast, "dense")
                quality[f"{backend}/hybrid"] = eval_metrics(settings, fast, "hybrid")
        result["eval"] = quality

    if args.synthetic:
        from llm_engineering.infrastructure.db.vector_bench import run_vector_bench

        synthetic = run_vector_bench(n=args.synthetic, queries=200, optimize=False)
        result["retrieval_synthetic"] = synthetic
    result["queries"] = len(queries)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

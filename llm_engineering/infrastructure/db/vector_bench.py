"""Timing helpers for the embedded vector store, for the bench script (no test imports this for speed).

`run_vector_bench()` walks the path the product takes: the writer upserts a synthetic N x dim
collection, publishes a release, a reader opens its private copy, then dense searches (plain and
filtered) are timed on the reader, as the inference API would run them.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from llm_engineering.application.ports import VectorIndex

COLLECTION = "bench_chunks"
CATEGORIES = ("articles", "posts", "repositories")


def bench_search(
    index: VectorIndex,
    name: str,
    queries: Sequence[Sequence[float]],
    *,
    limit: int = 10,
    filters: dict[str, Any] | None = None,
) -> dict[str, float]:
    """p50/p95 latency in ms of one dense search per query (one warm-up search first)."""
    if not queries:
        raise ValueError("bench_search needs at least one query vector")
    index.search(name, list(queries[0]), limit=limit, filters=filters)
    timings = []
    for query in queries:
        started = time.perf_counter()
        index.search(name, list(query), limit=limit, filters=filters)
        timings.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": _percentile(timings, 50), "p95_ms": _percentile(timings, 95)}


def run_vector_bench(
    n: int = 100_000,
    dim: int = 384,
    *,
    queries: int = 200,
    batch: int = 1_000,
    optimize: bool = False,
    workdir: Path | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Build, publish and query a synthetic collection in a temporary folder; return the timings.

    `optimize=True` builds the HNSW index at publish as the product's default does (100k x 384-d:
    75 s on 2 quiet cores, 6 min on busy ones; then ~1-2 ms searches); False times exact scans
    over plain segments (~13 ms p50 at 100k).
    """
    import numpy as np

    from llm_engineering.infrastructure.db.vector_releases import ReleaseReaderIndex, ReleaseWriterIndex

    rng = np.random.default_rng(seed)
    root = Path(tempfile.mkdtemp(prefix="vector-bench-", dir=workdir))
    authors = [str(uuid.UUID(int=rng.integers(1 << 62).item() + 1)) for _ in range(10)]
    try:
        writer = ReleaseWriterIndex.open(root)
        try:
            writer.ensure_collection(COLLECTION, vector_size=dim)
            upsert_s = 0.0
            for start in range(0, n, batch):
                size = min(batch, n - start)
                vectors = _unit_rows(rng, size, dim)
                ids = [str(uuid.UUID(int=start + i + 1)) for i in range(size)]
                payloads = [
                    {
                        "category": CATEGORIES[(start + i) % 3],
                        "author_id": authors[(start + i) % 10],
                        "n": start + i,
                    }
                    for i in range(size)
                ]
                rows = vectors.tolist()
                started = time.perf_counter()
                writer.upsert(COLLECTION, ids, payloads, rows)
                upsert_s += time.perf_counter() - started
            started = time.perf_counter()
            writer.publish(optimize=optimize)
            publish_s = time.perf_counter() - started
        finally:
            writer.close()

        started = time.perf_counter()
        reader = ReleaseReaderIndex.open(root)
        try:
            count = reader.count(COLLECTION)
            reader_open_s = time.perf_counter() - started
            query_rows = _unit_rows(rng, queries, dim).tolist()
            plain = bench_search(reader, COLLECTION, query_rows)
            filtered = bench_search(reader, COLLECTION, query_rows, filters={"author_id": authors[0]})
        finally:
            reader.close()
        size_mb = sum(p.stat().st_blocks * 512 for p in (root / "work").rglob("*") if p.is_file()) / 1e6
    finally:
        shutil.rmtree(root, ignore_errors=True)

    if count != n:
        raise RuntimeError(f"vector bench: the reader saw {count} points, the writer wrote {n}")
    result = {
        "points": float(n),
        "dim": float(dim),
        "upsert_points_per_s": n / upsert_s,
        "publish_s": publish_s,
        "reader_open_s": reader_open_s,
        "store_mb": size_mb,
        "query_p50_ms": plain["p50_ms"],
        "query_p95_ms": plain["p95_ms"],
        "filtered_query_p50_ms": filtered["p50_ms"],
        "filtered_query_p95_ms": filtered["p95_ms"],
    }
    logger.info("vector bench: {}", {k: round(v, 2) for k, v in result.items()})
    return result


def _unit_rows(rng: Any, rows: int, dim: int) -> Any:
    vectors = rng.standard_normal((rows, dim), dtype="float32")
    import numpy as np

    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _percentile(values: list[float], pct: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]

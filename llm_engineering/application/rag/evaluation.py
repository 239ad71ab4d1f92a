"""Retrieval quality on a labelled query set: hit@k, recall@k and MRR@10, at document level.

Chunks are mapped to their source link; a link counts once, at its best rank.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from llm_engineering.application.rag.retriever import ContextRetriever
from llm_engineering.domain.exceptions import ConfigError


class EvalQuery(BaseModel):
    query: str = Field(min_length=1)
    relevant_links: list[str] = Field(min_length=1)
    #: set when the query names its author: retrieval filters on it, as self-query would
    author: str | None = None


class QueryResult(BaseModel):
    query: str
    ranked_links: list[str]
    first_relevant_rank: int | None


class EvalReport(BaseModel):
    mode: str
    queries: int
    hit_at: dict[int, float]
    recall_at: dict[int, float]
    mrr_at_10: float
    results: list[QueryResult] = Field(default_factory=list, repr=False)

    def metrics(self) -> dict[str, float]:
        out = {f"hit@{k}": v for k, v in self.hit_at.items()}
        out.update({f"recall@{k}": v for k, v in self.recall_at.items()})
        out["mrr@10"] = self.mrr_at_10
        return {k: round(v, 4) for k, v in out.items()}


def load_eval_set(path: Path) -> list[EvalQuery]:
    queries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(
            f"eval set {path} cannot be read ({exc.strerror}): pass an existing JSONL file"
        ) from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            queries.append(EvalQuery.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ConfigError(
                f"eval set {path} line {number} is not a valid query record: fix it ({exc})"
            ) from exc
    if not queries:
        raise ConfigError(f"eval set {path} holds no queries")
    return queries


def evaluate(
    retriever: ContextRetriever,
    queries: Sequence[EvalQuery],
    ks: Sequence[int] = (1, 3, 5, 10),
    *,
    chunks_per_query: int = 40,
) -> EvalReport:
    hits = {k: 0.0 for k in ks}
    recalls = {k: 0.0 for k in ks}
    reciprocal = 0.0
    results = []
    for q in queries:
        found = retriever.retrieve(q.query, chunks_per_query, author_full_name=q.author)
        ranked = list(dict.fromkeys(h.link for h in found if h.link))
        relevant = set(q.relevant_links)
        first = next((rank for rank, link in enumerate(ranked, 1) if link in relevant), None)
        for k in ks:
            top = set(ranked[:k])
            hits[k] += bool(top & relevant)
            recalls[k] += len(top & relevant) / len(relevant)
        if first is not None and first <= 10:
            reciprocal += 1 / first
        results.append(QueryResult(query=q.query, ranked_links=ranked[:10], first_relevant_rank=first))
    n = len(queries)
    return EvalReport(
        mode=retriever.mode,
        queries=n,
        hit_at={k: v / n for k, v in hits.items()},
        recall_at={k: v / n for k, v in recalls.items()},
        mrr_at_10=reciprocal / n,
        results=results,
    )

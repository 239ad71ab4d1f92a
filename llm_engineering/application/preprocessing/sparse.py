"""BM25 term-frequency sparse vectors for hybrid search (the vector store applies IDF).

Backed by qdrant-edge's own BM25 model (Rust, offline: English stopwords and stemming, hashed
term ids), so documents and queries are tokenised exactly as Qdrant's server-side BM25 would.
Documents get saturated term frequencies `tf * (k + 1) / (tf + k * (1 - b + b * len / avg_len))`;
queries get weight 1.0 per unique term. Store them in a sparse vector with `Modifier.IDF`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from llm_engineering.domain.features import SparseVector

#: BM25 parameters (Qdrant's defaults); avg_len is in words, about one MiniLM chunk
BM25_K = 1.2
BM25_B = 0.75
BM25_AVG_LEN = 180.0
BM25_LANGUAGE = "english"


@lru_cache(maxsize=1)
def _model() -> Any:
    from qdrant_edge import Bm25, Bm25Config

    return Bm25(Bm25Config(k=BM25_K, b=BM25_B, avg_len=BM25_AVG_LEN, language=BM25_LANGUAGE))


def _sorted(indices: list[int], values: list[float]) -> tuple[list[int], list[float]]:
    pairs = sorted(zip(indices, values, strict=True))
    return [i for i, _ in pairs], [float(v) for _, v in pairs]


def sparse_document(text: str) -> tuple[list[int], list[float]]:
    """(indices, values) of a chunk to index; empty when it has no indexable word."""
    vector = _model().embed_document(text)
    return _sorted(list(vector.indices), list(vector.values))


def sparse_query(text: str) -> tuple[list[int], list[float]]:
    """(indices, values) of a query: 1.0 per unique term (IDF comes from the store)."""
    vector = _model().embed_query(text)
    return _sorted(list(vector.indices), list(vector.values))


def sparse_vector(text: str) -> SparseVector:
    """`sparse_document` as the domain's SparseVector (for EmbeddedChunk.sparse)."""
    indices, values = sparse_document(text)
    return SparseVector(indices=indices, values=values)

"""BM25 term-frequency sparse vectors for hybrid search (the vector store applies IDF).

Backed by qdrant-edge's own BM25 model (Rust, offline: English stopwords and stemming, hashed
term ids), so documents and queries are tokenised exactly as Qdrant's server-side BM25 would.
Documents get saturated term frequencies `tf * (k + 1) / (tf + k * (1 - b + b * len / avg_len))`;
queries get weight 1.0 per unique term. Store them in a sparse vector with `Modifier.IDF`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from llm_engineering.domain.features import SparseVector


@dataclass(frozen=True)
class Bm25Config:
    """BM25 parameters (Qdrant's defaults); `avg_len` is in words, about one MiniLM chunk."""

    k: float = 1.2
    b: float = 0.75
    avg_len: float = 180.0
    language: str = "english"

    def __post_init__(self) -> None:
        if self.k < 0 or not 0.0 <= self.b <= 1.0 or self.avg_len <= 0:
            raise ValueError(f"BM25 needs k >= 0, 0 <= b <= 1 and avg_len > 0, got {self}")


_MODELS: dict[Bm25Config, Any] = {}
_MODELS_LOCK = threading.Lock()


class Bm25SparseEncoder:
    """The `SparseEncoder` port over qdrant-edge's `Bm25`; the model is built in `warm_up()`."""

    def __init__(self, config: Bm25Config | None = None) -> None:
        self.config = config or Bm25Config()
        self._model: Any = None

    def warm_up(self) -> None:
        """Build the BM25 model once per process and config. Idempotent."""
        if self._model is not None:
            return
        with _MODELS_LOCK:
            model = _MODELS.get(self.config)
            if model is None:
                from qdrant_edge import Bm25
                from qdrant_edge import Bm25Config as EdgeBm25Config

                cfg = self.config
                model = Bm25(EdgeBm25Config(k=cfg.k, b=cfg.b, avg_len=cfg.avg_len, language=cfg.language))
                _MODELS[self.config] = model
        self._model = model

    def encode_documents(self, texts: list[str]) -> list[SparseVector]:
        """One vector per chunk to index; empty when a chunk has no indexable word."""
        self.warm_up()
        return [_sorted(self._model.embed_document(text)) for text in texts]

    def encode_query(self, text: str) -> SparseVector:
        """1.0 per unique query term (IDF comes from the store)."""
        self.warm_up()
        return _sorted(self._model.embed_query(text))


def _sorted(vector: Any) -> SparseVector:
    pairs = sorted(zip(vector.indices, vector.values, strict=True))
    return SparseVector(indices=[int(i) for i, _ in pairs], values=[float(v) for _, v in pairs])

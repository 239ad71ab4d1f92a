"""A `Reranker` scoring (query, chunk) pairs with a sentence-transformers CrossEncoder from a folder.

No pretrained cross-encoder ships in any package reachable offline, so this is for users who have
one (e.g. a downloaded `cross-encoder/ms-marco-MiniLM-L-6-v2`); the offline default is no reranking.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.application.ports import Reranker
from llm_engineering.application.rag.config import RerankConfig
from llm_engineering.application.rag.rerank import LLMReranker, NoReranker
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.features import RetrievalHit


@dataclass(frozen=True)
class CrossEncoderConfig:
    model_path: str
    batch_size: int = 16
    max_length: int = 512
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not (Path(self.model_path) / "config.json").is_file():
            raise ConfigError(
                f"rerank model_path {self.model_path} is not a model folder (no config.json): "
                "point it at a sentence-transformers CrossEncoder folder, or set rerank.method: none"
            )


class CrossEncoderReranker:
    name = "cross-encoder"

    def __init__(self, config: CrossEncoderConfig) -> None:
        self.config = config
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                self._model = CrossEncoder(
                    self.config.model_path, max_length=self.config.max_length, device=self.config.device
                )
                logger.info("cross-encoder reranker loaded from {}", self.config.model_path)

    def rerank(self, query: str, hits: Sequence[RetrievalHit]) -> list[RetrievalHit]:
        if not hits:
            return []
        self.warm_up()
        scores = self._model.predict(
            [(query, h.content) for h in hits], batch_size=self.config.batch_size, show_progress_bar=False
        )
        scored = [h.model_copy(update={"score": float(s)}) for h, s in zip(hits, scores, strict=True)]
        return sorted(scored, key=lambda h: h.score, reverse=True)


def build_reranker(config: RerankConfig, llm: Any = None) -> Reranker:
    """The reranker `rerank.method` names: none, cross-encoder (a model folder) or llm (the LLM port)."""
    if config.method == "cross-encoder":
        assert config.model_path is not None  # RerankConfig checks it
        return CrossEncoderReranker(CrossEncoderConfig(config.model_path))
    if config.method == "llm":
        if llm is None:
            raise ConfigError("rerank.method llm needs an LLM: configure one, or set rerank.method: none")
        return LLMReranker(llm)
    return NoReranker()

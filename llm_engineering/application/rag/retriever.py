"""Retrieval: embed the query, search every category's chunks, merge, return the top k."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from llm_engineering.application.ports import QueryEmbedder, SparseEncoder, VectorReader
from llm_engineering.domain.features import RetrievalHit, chunk_collection
from llm_engineering.domain.types import DataCategory

SearchMode = Literal["dense", "hybrid"]
#: the mode that measures best on eval/handbook_retrieval_hard.jsonl (README, "Retrieval quality")
DEFAULT_MODE: SearchMode = "hybrid"


class ContextRetriever:
    """Searches the embedded chunks of all (or some) categories, optionally for one author.

    With a `sparse_encoder` the search is hybrid (dense + BM25, fused in the engine), else dense.
    """

    def __init__(
        self, index: VectorReader, embedder: QueryEmbedder, sparse_encoder: SparseEncoder | None = None
    ) -> None:
        self._index = index
        self._embedder = embedder
        self._sparse = sparse_encoder

    @property
    def mode(self) -> SearchMode:
        return "dense" if self._sparse is None else "hybrid"

    def retrieve(
        self,
        query: str,
        k: int = 5,
        *,
        author_full_name: str | None = None,
        categories: Sequence[DataCategory] | None = None,
    ) -> list[RetrievalHit]:
        if not query.strip():
            raise ValueError("the query is empty: ask a question")
        vector = self._embedder.embed_query(query)
        sparse = None
        if self._sparse is not None:
            terms = self._sparse.encode_query(query)
            sparse = (terms.indices, terms.values)
        filters = {"author_full_name": author_full_name} if author_full_name else None
        hits: list[RetrievalHit] = []
        for category in categories or list(DataCategory):
            name = chunk_collection(category)
            if not self._index.collection_exists(name):
                continue
            if sparse is not None:
                found = self._index.hybrid_search(name, vector, sparse, limit=k, filters=filters)
            else:
                found = self._index.search(name, vector, limit=k, filters=filters)
            hits.extend(_to_hit(point_id, score, payload) for point_id, score, payload in found)
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]


def _to_hit(point_id: str, score: float, payload: dict) -> RetrievalHit:
    return RetrievalHit(
        chunk_id=point_id,
        score=score,
        content=payload["content"],
        link=payload.get("link"),
        author_full_name=payload["author_full_name"],
        author_id=payload["author_id"],
        category=payload["category"],
        document_id=payload["document_id"],
        chunk_index=payload["chunk_index"],
        metadata={"platform": payload.get("platform")},
    )

"""Feature-store records: collection names, cleaned documents, chunks and retrieval hits. No I/O."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field

from llm_engineering.domain.types import DataCategory

#: namespace for deterministic chunk ids
CHUNK_NAMESPACE = uuid.UUID("8d0f5c62-5d3c-4c3b-9a64-0b7f0e7c2d11")


def cleaned_collection(category: DataCategory) -> str:
    """The payload-only collection of a category's cleaned documents (the logical feature store)."""
    return f"cleaned_{category.value}"


def chunk_collection(category: DataCategory) -> str:
    """The collection of a category's embedded chunks (dense + optional BM25 sparse vectors)."""
    return f"embedded_{category.value}"


_PROVENANCE = {"category", "platform", "link", "author_id", "author_full_name", "source_hash"}


class CleanedDocument(BaseModel):
    """A warehouse document reduced to the text that carries meaning, with its provenance."""

    id: uuid.UUID  # the warehouse document's id
    category: DataCategory
    platform: str
    link: str | None = None
    author_id: uuid.UUID
    author_full_name: str
    title: str = ""
    content: str
    #: content hash of the *source* warehouse document: decides incremental re-runs
    source_hash: str

    def provenance(self) -> dict[str, Any]:
        """What each of its chunks carries about where it came from."""
        return self.model_dump(include=_PROVENANCE)


class Chunk(BaseModel):
    """A piece of a cleaned document small enough for the embedder to see whole."""

    id: uuid.UUID
    document_id: uuid.UUID
    chunk_index: int
    content: str
    #: character span in the cleaned document's content
    start_char: int
    end_char: int
    token_count: int
    category: DataCategory
    platform: str
    link: str | None = None
    author_id: uuid.UUID
    author_full_name: str
    source_hash: str

    @staticmethod
    def make_id(document_id: uuid.UUID, chunk_index: int, content_hash: str) -> uuid.UUID:
        """Deterministic from (document id, chunk index, content hash): re-runs give equal ids."""
        return uuid.uuid5(CHUNK_NAMESPACE, f"{document_id}:{chunk_index}:{content_hash}")

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"id"})


class SparseVector(BaseModel):
    indices: list[int]
    values: list[float]


class RetrievalHit(BaseModel):
    """One retrieved chunk, with where it came from."""

    chunk_id: uuid.UUID
    score: float
    content: str
    link: str | None
    author_full_name: str
    author_id: uuid.UUID
    category: DataCategory
    document_id: uuid.UUID
    chunk_index: int
    metadata: dict[str, Any] = Field(default_factory=dict)

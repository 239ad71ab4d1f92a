"""Interfaces the application owns; infrastructure adapts MongoDB, Qdrant and models to them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar
from uuid import UUID

from llm_engineering.domain.documents import ContentDocument, UserDocument, WarehouseDocument
from llm_engineering.domain.features import RetrievalHit
from llm_engineering.domain.types import SaveOutcome

D = TypeVar("D", bound=WarehouseDocument)


class DocumentRepository(Protocol):
    """The data warehouse. Saving is an idempotent upsert keyed on each document's identity."""

    def ensure_indexes(self) -> None: ...

    def get_or_create_user(self, full_name: str) -> UserDocument: ...

    def find_user(self, full_name: str) -> UserDocument | None: ...

    def save(self, document: ContentDocument) -> SaveOutcome:
        """Insert a new document, update a changed one (same id), leave an unchanged one alone."""
        ...

    def find_by_identity(self, doc_type: type[D], identity: str) -> D | None: ...

    def find(self, doc_type: type[D], **filters: Any) -> list[D]: ...

    def iter_all(self, doc_type: type[D]) -> Iterator[D]: ...

    def count(self, doc_type: type[WarehouseDocument], **filters: Any) -> int: ...

    def import_raw(self, doc_type: type[WarehouseDocument], rows: Iterable[dict[str, Any]]) -> dict[str, int]:
        """Upsert raw exported rows by `_id`, idempotently; returns counts by outcome."""
        ...

    def export_raw(self, doc_type: type[WarehouseDocument]) -> list[dict[str, Any]]: ...

    def authors(self, ids: Iterable[UUID]) -> list[UserDocument]: ...

    def close(self) -> None: ...


class VectorIndex(Protocol):
    """The feature store / vector DB, in domain terms. Collections are named by the caller."""

    def ensure_collection(self, name: str, *, vector_size: int | None, sparse: bool = False) -> None:
        """Create the collection if missing; `vector_size=None` makes a payload-only collection."""
        ...

    def collection_exists(self, name: str) -> bool: ...

    def list_collections(self) -> list[str]: ...

    def drop_collection(self, name: str) -> None: ...

    def upsert(
        self,
        name: str,
        ids: list[str],
        payloads: list[dict[str, Any]],
        vectors: list[list[float]] | None = None,
        sparse: list[tuple[list[int], list[float]]] | None = None,
    ) -> None: ...

    def delete(self, name: str, ids: list[str]) -> None: ...

    def delete_where(self, name: str, field: str, values: list[str]) -> None:
        """Delete every point whose payload `field` is one of `values`."""
        ...

    def scroll(
        self, name: str, filters: dict[str, Any] | None = None, fields: list[str] | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every (id, payload) matching exact-match `filters`; `fields` limits the payload."""
        ...

    def count(self, name: str) -> int: ...

    def search(
        self, name: str, vector: list[float], *, limit: int, filters: dict[str, Any] | None = None
    ) -> list[tuple[str, float, dict[str, Any]]]:
        """Dense nearest neighbours: (id, score, payload), best first."""
        ...

    def hybrid_search(
        self,
        name: str,
        vector: list[float],
        sparse: tuple[list[int], list[float]],
        *,
        limit: int,
        filters: dict[str, Any] | None = None,
    ) -> list[tuple[str, float, dict[str, Any]]]:
        """Dense + sparse candidates fused with reciprocal rank fusion."""
        ...

    def flush(self) -> None: ...

    def publish(self) -> str | None:
        """Make this writer's changes visible to readers at once (embedded mode); no-op on a server."""
        ...

    def refresh(self) -> bool:
        """Switch a long-lived reader to the newest published data; True when it changed."""
        ...

    def close(self) -> None: ...


# --- RAG (inference issue: answers with sources) ------------------------------------------------


class Reranker(Protocol):
    """Reorders retrieved chunks by relevance to the query, best first (scores replaced)."""

    #: "none", "cross-encoder", "llm"
    name: str

    def rerank(self, query: str, hits: Sequence[RetrievalHit]) -> list[RetrievalHit]: ...

"""In-memory test doubles for the application's ports, for fast unit tests.

Each fake keeps the contract its real adapter keeps (tests/integration/test_repository_contract.py
runs the same checks on both), so a unit test on a fake says something about production.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar
from uuid import UUID

import numpy as np

from llm_engineering.domain.documents import (
    ContentDocument,
    UserDocument,
    WarehouseDocument,
    hash_content,
    utcnow,
)
from llm_engineering.domain.types import SaveOutcome

D = TypeVar("D", bound=WarehouseDocument)


class InMemoryDocumentRepository:
    """`DocumentRepository` over dicts: the same idempotent upsert semantics as the Mongo adapter."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, dict[str, Any]]] = {}  # collection -> _id -> row
        self._lock = threading.Lock()
        self.closed = False

    def _collection(self, doc_type: type[WarehouseDocument]) -> dict[str, dict[str, Any]]:
        return self._rows.setdefault(doc_type.collection, {})

    def ensure_indexes(self) -> None:
        """Identity uniqueness is enforced by `save` itself."""

    def find_user(self, full_name: str) -> UserDocument | None:
        probe = UserDocument.from_full_name(full_name)
        for row in self._collection(UserDocument).values():
            if (row["first_name"], row["last_name"]) == (probe.first_name, probe.last_name):
                return UserDocument.from_mongo(row)  # type: ignore[return-value]
        return None

    def get_or_create_user(self, full_name: str) -> UserDocument:
        with self._lock:
            existing = self.find_user(full_name)
            if existing:
                return existing
            user = UserDocument.from_full_name(full_name)
            self._collection(UserDocument)[str(user.id)] = user.to_mongo()
            return user

    def authors(self, ids: Iterable[UUID]) -> list[UserDocument]:
        users = self._collection(UserDocument)
        return [UserDocument.from_mongo(users[str(i)]) for i in ids if str(i) in users]  # type: ignore[misc]

    def save(self, document: ContentDocument) -> SaveOutcome:
        with self._lock:
            rows = self._collection(type(document))
            key = document.identity_key()
            existing = next((r for r in rows.values() if all(r.get(k) == v for k, v in key.items())), None)
            if existing is None:
                rows[str(document.id)] = document.to_mongo()
                return SaveOutcome.INSERTED
            if existing["content_hash"] == document.content_hash:
                return SaveOutcome.UNCHANGED
            data = document.to_mongo()
            data["_id"] = existing["_id"]
            data["created_at"] = existing["created_at"]
            data["updated_at"] = utcnow().isoformat()
            rows[existing["_id"]] = data
            return SaveOutcome.UPDATED

    def find_by_identity(self, doc_type: type[D], identity: str, author_id: UUID | None = None) -> D | None:
        field = getattr(doc_type, "identity_field", "_id")
        found = self._matching(doc_type, {field: identity} | ({"author_id": author_id} if author_id else {}))
        return found[0] if found else None

    def find(self, doc_type: type[D], **filters: Any) -> list[D]:
        return self._matching(doc_type, filters)

    def iter_all(self, doc_type: type[D]) -> Iterator[D]:
        yield from self._matching(doc_type, {})

    def count(self, doc_type: type[WarehouseDocument], **filters: Any) -> int:
        return len(self._matching(doc_type, filters))

    def export_raw(self, doc_type: type[WarehouseDocument]) -> list[dict[str, Any]]:
        return [dict(row) for _, row in sorted(self._collection(doc_type).items())]

    def import_raw(self, doc_type: type[WarehouseDocument], rows: Iterable[dict[str, Any]]) -> dict[str, int]:
        counts = {outcome.value: 0 for outcome in SaveOutcome}
        for row in rows:
            if issubclass(doc_type, ContentDocument):
                row = {**row, "content_hash": row.get("content_hash") or hash_content(row.get("content"))}
                outcome = self.save(doc_type.from_mongo(row))  # type: ignore[arg-type]
            else:
                doc = doc_type.from_mongo(row)
                stored = self._collection(doc_type).get(str(doc.id))
                outcome = (
                    SaveOutcome.UNCHANGED
                    if stored == doc.to_mongo()
                    else (SaveOutcome.UPDATED if stored else SaveOutcome.INSERTED)
                )
                self._collection(doc_type)[str(doc.id)] = doc.to_mongo()
            counts[outcome.value] += 1
        return counts

    def close(self) -> None:
        self.closed = True

    def _matching(self, doc_type: type[D], filters: dict[str, Any]) -> list[D]:
        wanted = {k: str(v) if isinstance(v, UUID) else v for k, v in filters.items()}
        return [
            doc_type.from_mongo(row)  # type: ignore[misc]
            for row in self._collection(doc_type).values()
            if all(row.get(k) == v for k, v in wanted.items())
        ]


class HashingEmbedder:
    """A deterministic `Embedder`/`QueryEmbedder`: bag of hashed words, L2-normalised.

    Texts that share words get a positive cosine, so retrieval order is meaningful in tests,
    without loading a model.
    """

    def __init__(self, dimension: int = 64, max_seq_length: int = 256) -> None:
        self.dimension = dimension
        self.max_seq_length = max_seq_length
        self.model_id = f"hashing-{dimension}"

    def warm_up(self) -> None:
        """Nothing to load."""

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in text.lower().split():
            digest = hashlib.blake2b(word.strip(".,;:!?\"'()[]").encode(), digest_size=8).digest()
            vector[int.from_bytes(digest[:4], "little") % self.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed(self, texts: list[str], *, show_progress_bar: bool | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text).tolist()

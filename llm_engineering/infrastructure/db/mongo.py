"""The data warehouse over the pymongo API: a real MongoDB server, or embedded litemongo.

Both speak the same pymongo API, so one repository class serves both. Writes are idempotent
upserts keyed on each document's identity (link, or post id), guarded by unique indexes; a
concurrent insert of the same identity (another process, another run) turns into a retry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from loguru import logger
from pymongo.errors import DuplicateKeyError, PyMongoError

from llm_engineering.domain.documents import (
    CONTENT_DOCUMENT_TYPES,
    ContentDocument,
    UserDocument,
    WarehouseDocument,
    hash_content,
    utcnow,
)
from llm_engineering.domain.exceptions import StoreUnavailable
from llm_engineering.domain.types import SaveOutcome
from llm_engineering.settings import Settings

D = TypeVar("D", bound=WarehouseDocument)

_UPSERT_ATTEMPTS = 5


class MongoDocumentRepository:
    """`DocumentRepository` over any pymongo-compatible `Database`."""

    def __init__(self, database: Any, client: Any) -> None:
        self._db = database
        self._client = client

    # --- setup ---------------------------------------------------------------------------
    def ensure_indexes(self) -> None:
        """Unique indexes make duplicates impossible, whatever the writers do."""
        self._db[UserDocument.collection].create_index(
            [("first_name", 1), ("last_name", 1)], unique=True, name="unique_full_name"
        )
        for doc_type in CONTENT_DOCUMENT_TYPES:
            col = self._db[doc_type.collection]
            field = doc_type.identity_field
            if f"unique_{field}" in col.index_information():  # before: unique per link, across people
                col.drop_index(f"unique_{field}")
            col.create_index([("author_id", 1), (field, 1)], unique=True, name=f"unique_author_{field}")
            col.create_index("author_id", name="author_id")

    # --- users ---------------------------------------------------------------------------
    def find_user(self, full_name: str) -> UserDocument | None:
        probe = UserDocument.from_full_name(full_name)
        row = self._db[UserDocument.collection].find_one(
            {"first_name": probe.first_name, "last_name": probe.last_name}
        )
        return UserDocument.from_mongo(row) if row else None  # type: ignore[return-value]

    def get_or_create_user(self, full_name: str) -> UserDocument:
        for _ in range(_UPSERT_ATTEMPTS):
            existing = self.find_user(full_name)
            if existing:
                return existing
            user = UserDocument.from_full_name(full_name)
            try:
                self._db[UserDocument.collection].insert_one(user.to_mongo())
                logger.info("Created user {}", user.full_name)
                return user
            except DuplicateKeyError:
                continue  # another writer created it first: read theirs
        raise StoreUnavailable(f"could not create user {full_name!r}: the warehouse keeps rejecting it")

    def authors(self, ids: Iterable[UUID]) -> list[UserDocument]:
        rows = self._db[UserDocument.collection].find({"_id": {"$in": [str(i) for i in ids]}})
        return [UserDocument.from_mongo(r) for r in rows]  # type: ignore[misc]

    # --- content -------------------------------------------------------------------------
    def save(self, document: ContentDocument) -> SaveOutcome:
        col = self._db[document.collection]
        key = document.identity_key()
        for _ in range(_UPSERT_ATTEMPTS):
            existing = col.find_one(key, {"_id": 1, "content_hash": 1, "created_at": 1})
            if existing is None:
                try:
                    col.insert_one(document.to_mongo())
                    return SaveOutcome.INSERTED
                except DuplicateKeyError:
                    continue  # a concurrent writer inserted it: compare with theirs
            if existing.get("content_hash") == document.content_hash:
                return SaveOutcome.UNCHANGED
            data = document.to_mongo()
            data["_id"] = existing["_id"]
            data["created_at"] = existing.get("created_at") or data["created_at"]
            data["updated_at"] = utcnow().isoformat()
            col.replace_one({"_id": existing["_id"]}, data)
            return SaveOutcome.UPDATED
        raise StoreUnavailable(f"could not save {document.identity!r}: concurrent writers kept conflicting")

    def find_by_identity(self, doc_type: type[D], identity: str, author_id: UUID | None = None) -> D | None:
        field = getattr(doc_type, "identity_field", "_id")
        query = {field: identity} | ({"author_id": str(author_id)} if author_id else {})
        row = self._db[doc_type.collection].find_one(query)
        return doc_type.from_mongo(row) if row else None  # type: ignore[return-value]

    def find(self, doc_type: type[D], **filters: Any) -> list[D]:
        return [doc_type.from_mongo(r) for r in self._db[doc_type.collection].find(_stringify(filters))]  # type: ignore[misc]

    def iter_all(self, doc_type: type[D]) -> Iterator[D]:
        for row in self._db[doc_type.collection].find({}):
            yield doc_type.from_mongo(row)  # type: ignore[misc]

    def count(self, doc_type: type[WarehouseDocument], **filters: Any) -> int:
        return self._db[doc_type.collection].count_documents(_stringify(filters))

    # --- export / import -----------------------------------------------------------------
    def export_raw(self, doc_type: type[WarehouseDocument]) -> list[dict[str, Any]]:
        return list(self._db[doc_type.collection].find({}).sort("_id", 1))

    def import_raw(self, doc_type: type[WarehouseDocument], rows: Iterable[dict[str, Any]]) -> dict[str, int]:
        """Upsert exported rows as they are; documents are matched on their identity, then `_id`."""
        counts = {outcome.value: 0 for outcome in SaveOutcome}
        for row in rows:
            if issubclass(doc_type, ContentDocument):
                row = {**row, "content_hash": row.get("content_hash") or hash_content(row.get("content"))}
                outcome = self.save(doc_type.from_mongo(row))  # type: ignore[arg-type]
            else:
                outcome = self._import_plain(doc_type, row)
            counts[outcome.value] += 1
        return counts

    def _import_plain(self, doc_type: type[WarehouseDocument], row: dict[str, Any]) -> SaveOutcome:
        doc = doc_type.from_mongo(row)
        col = self._db[doc_type.collection]
        existing = col.find_one({"_id": str(doc.id)})
        if existing == doc.to_mongo():
            return SaveOutcome.UNCHANGED
        try:
            col.replace_one({"_id": str(doc.id)}, doc.to_mongo(), upsert=True)
        except DuplicateKeyError:
            return SaveOutcome.UNCHANGED  # the same person under another id: keep the stored one
        return SaveOutcome.UPDATED if existing else SaveOutcome.INSERTED

    def close(self) -> None:
        self._client.close()


def _stringify(filters: dict[str, Any]) -> dict[str, Any]:
    """UUIDs are stored as strings; let callers pass either."""
    return {k: str(v) if isinstance(v, UUID) else v for k, v in filters.items()}


def connect_warehouse(settings: Settings) -> MongoDocumentRepository:
    """Open the warehouse the settings name: a MongoDB server URI, else litemongo under DATA_DIR."""
    if settings.DATABASE_HOST:
        client = _connect_server(settings.DATABASE_HOST)
        repository = MongoDocumentRepository(client[settings.DATABASE_NAME], client)
        repository.ensure_indexes()
        return repository
    from filelock import FileLock

    path = settings.warehouse_dir
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # processes opening a new warehouse at once raced creating its files and schema
        # ("File exists", "database is locked"): opening (connect + indexes) is serialised
        # across processes; the lock is held for the open only, not while writing
        with FileLock(str(path.parent / f".{path.name}.open.lock"), timeout=60):
            client = _connect_embedded(path)
            repository = MongoDocumentRepository(client[settings.DATABASE_NAME], client)
            repository.ensure_indexes()
    except (OSError, sqlite3.Error) as exc:  # a read-only or missing DATA_DIR, a full disk
        raise StoreUnavailable(
            f"the embedded warehouse at {settings.warehouse_dir} cannot be opened for writing "
            f"({_reason(exc)}): set DATA_DIR to a writable folder"
        ) from None
    return repository


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0] or type(exc).__name__


def _connect_server(uri: str) -> Any:
    from pymongo import MongoClient

    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=5000, uuidRepresentation="standard")
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        client.close()
        raise StoreUnavailable(
            f"MongoDB at DATABASE_HOST is unreachable ({type(exc).__name__}): start it with "
            "`docker compose up -d mongo` or unset DATABASE_HOST to use the embedded store"
        ) from exc
    logger.info("Data warehouse: MongoDB server")
    return client


def _connect_embedded(path: Path) -> Any:
    import litemongo

    path.mkdir(parents=True, exist_ok=True)
    logger.debug("Data warehouse: embedded litemongo at {}", path)
    return litemongo.connect(f"sqlite://{path.resolve()}")

"""Data-warehouse documents. Plain pydantic models: they know nothing about storage."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_engineering.domain.types import DataCategory


def utcnow() -> datetime:
    return datetime.now(UTC)


def hash_content(content: Any) -> str:
    """Stable SHA-256 of any JSON-able content; the change detector for upserts."""
    payload = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class WarehouseDocument(BaseModel):
    """Base of every warehouse document: a UUID id and the collection it lives in."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    collection: ClassVar[str]
    id: UUID = Field(default_factory=uuid4)

    def to_mongo(self) -> dict[str, Any]:
        """Serialise for the warehouse: `_id` and UUIDs as strings (the export format)."""
        data = self.model_dump(mode="json", exclude={"id"})
        data["_id"] = str(self.id)
        return data

    @classmethod
    def from_mongo(cls, data: dict[str, Any]) -> WarehouseDocument:
        data = dict(data)
        if "_id" in data:
            data["id"] = data.pop("_id")
        return cls.model_validate(data)


class UserDocument(WarehouseDocument):
    collection: ClassVar[str] = "users"
    first_name: str
    last_name: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @classmethod
    def from_full_name(cls, full_name: str) -> UserDocument:
        """Split "First Middle Last" into first name(s) and the last word."""
        parts = full_name.strip().split()
        if not parts:
            raise ValueError("user_full_name is empty: set it to the person's full name in the ETL config")
        if len(parts) == 1:
            return cls(first_name=parts[0], last_name="")
        return cls(first_name=" ".join(parts[:-1]), last_name=parts[-1])


class ContentDocument(WarehouseDocument):
    """A piece of a person's footprint. `content_hash` decides whether a re-crawl changes it."""

    category: ClassVar[DataCategory]
    #: the field that identifies the document across crawls (unique index)
    identity_field: ClassVar[str] = "link"

    content: dict[str, Any]
    platform: str
    link: str | None = None
    author_id: UUID
    author_full_name: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    content_hash: str = ""

    @model_validator(mode="after")
    def _fill_hash(self) -> ContentDocument:
        if not self.content_hash:
            self.content_hash = hash_content(self.content)
        return self

    @property
    def identity(self) -> str:
        return str(getattr(self, self.identity_field))

    def identity_key(self) -> dict[str, str]:
        """What makes a document unique in the warehouse: its author and its link (or post id).

        Two people may share a link (a co-written article, a reshared post): each keeps their own.
        """
        return {"author_id": str(self.author_id), self.identity_field: self.identity}


class ArticleDocument(ContentDocument):
    collection: ClassVar[str] = "articles"
    category: ClassVar[DataCategory] = DataCategory.ARTICLES
    link: str


class RepositoryDocument(ContentDocument):
    """A git repository; `content` maps file paths to their text."""

    collection: ClassVar[str] = "repositories"
    category: ClassVar[DataCategory] = DataCategory.REPOSITORIES
    link: str
    name: str


class PostDocument(ContentDocument):
    """A short post (LinkedIn). `post_id` is stable across crawls and exports."""

    collection: ClassVar[str] = "posts"
    category: ClassVar[DataCategory] = DataCategory.POSTS
    identity_field: ClassVar[str] = "post_id"
    post_id: str
    image: str | None = None


CONTENT_DOCUMENT_TYPES: tuple[type[ContentDocument], ...] = (
    ArticleDocument,
    PostDocument,
    RepositoryDocument,
)
ALL_DOCUMENT_TYPES: tuple[type[WarehouseDocument], ...] = (UserDocument, *CONTENT_DOCUMENT_TYPES)

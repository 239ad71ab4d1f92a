"""The feature pipeline's use cases: warehouse -> clean -> chunk -> embed -> vector DB, incrementally.

Each warehouse document's content hash decides its fate: unchanged documents are skipped,
new and changed ones are (re)processed, and documents gone from the warehouse lose their
chunks. The cleaned-document record is written last, so it acts as the commit marker: a run
that dies half-way leaves it stale, and the next run redoes that document.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.ports import (
    Chunker,
    DocumentRepository,
    Embedder,
    SparseEncoder,
    VectorIndex,
    VectorReader,
)
from llm_engineering.domain.documents import (
    ArticleDocument,
    ContentDocument,
    PostDocument,
    RepositoryDocument,
    UserDocument,
)
from llm_engineering.domain.exceptions import ConfigError, LLMTwinException
from llm_engineering.domain.features import (
    Chunk,
    CleanedDocument,
    SparseVector,
    chunk_collection,
    cleaned_collection,
)
from llm_engineering.domain.types import DataCategory


class FeaturePlan(BaseModel):
    """What a run must do: documents to (re)process, documents to forget, and what it skips."""

    articles: list[ArticleDocument] = Field(default_factory=list)
    posts: list[PostDocument] = Field(default_factory=list)
    repositories: list[RepositoryDocument] = Field(default_factory=list)
    #: category -> ids of documents no longer in the warehouse
    deleted: dict[DataCategory, list[str]] = Field(default_factory=dict)
    unchanged: dict[DataCategory, int] = Field(default_factory=dict)
    full: bool = False

    def documents(self) -> list[ContentDocument]:
        return [*self.articles, *self.posts, *self.repositories]


class SkippedDocument(BaseModel):
    document_id: str
    link: str | None
    reason: str


class CleanedBatch(BaseModel):
    documents: list[CleanedDocument] = Field(default_factory=list)
    skipped: list[SkippedDocument] = Field(default_factory=list)


class ChunkBatch(BaseModel):
    """Chunks with their sparse vectors; dense embeddings travel as one numpy array beside it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    chunks: list[Chunk] = Field(default_factory=list)
    sparse: list[SparseVector] | None = None


class LoadReport(BaseModel):
    documents_per_category: dict[str, int]
    chunks: int
    tokens_per_chunk_p50: float
    tokens_per_chunk_p95: float
    unchanged_skipped: int
    deleted: int
    skipped_bad: int
    #: skipped documents that had chunks from an earlier run (removed now); the rest had none
    skipped_removed: int = 0
    #: the run rebuilt the store from scratch: readers must switch even if nothing else changed
    rebuilt: bool = False

    def metadata(self) -> dict[str, Any]:
        return self.model_dump()

    @property
    def changed(self) -> bool:
        """Whether readers have anything new to see (a no-op run publishes nothing)."""
        return bool(
            self.rebuilt or self.chunks or self.deleted or self.skipped_removed or self.documents_per_category
        )


_DOC_TYPES: dict[DataCategory, type[ContentDocument]] = {
    DataCategory.ARTICLES: ArticleDocument,
    DataCategory.POSTS: PostDocument,
    DataCategory.REPOSITORIES: RepositoryDocument,
}


def plan_feature_run(
    repository: DocumentRepository,
    index: VectorReader,
    author_full_names: Sequence[str] = (),
    *,
    full: bool = False,
) -> FeaturePlan:
    """Compare the warehouse with the feature store and list the work; reads only.

    `full` with authors redoes only their documents: dropping the collections would lose the others'.
    """
    authors = _resolve_authors(repository, author_full_names)
    plan = FeaturePlan(full=full and not authors)
    for category, doc_type in _DOC_TYPES.items():
        stored = {} if plan.full else _stored_hashes(index, category, authors)
        wanted = (
            [d for a in authors for d in repository.find(doc_type, author_id=a.id)]
            if authors
            else list(repository.iter_all(doc_type))
        )
        fresh = [d for d in wanted if full or stored.get(str(d.id)) != d.content_hash]
        getattr(plan, category.value).extend(fresh)
        plan.unchanged[category] = len(wanted) - len(fresh)
        present = {str(d.id) for d in wanted}
        plan.deleted[category] = sorted(set(stored) - present)
    logger.info(
        "Feature plan: {} to process, {} unchanged, {} deleted",
        len(plan.documents()),
        sum(plan.unchanged.values()),
        sum(len(v) for v in plan.deleted.values()),
    )
    return plan


def _resolve_authors(repository: DocumentRepository, names: Sequence[str]) -> list[UserDocument]:
    authors = []
    for name in names:
        user = repository.find_user(name)
        if user is None:
            raise ConfigError(
                f"author {name!r} is not in the warehouse: run the ETL for them or fix the name"
            )
        authors.append(user)
    return authors


def _stored_hashes(
    index: VectorReader, category: DataCategory, authors: list[UserDocument]
) -> dict[str, str]:
    name = cleaned_collection(category)
    if not index.collection_exists(name):
        return {}
    filters = {"author_id": [str(a.id) for a in authors]} if authors else None
    return {
        point_id: payload.get("source_hash", "")
        for point_id, payload in index.scroll(name, filters, fields=["source_hash"])
    }


def clean_documents(documents: Iterable[ContentDocument]) -> CleanedBatch:
    """Clean each document; one that is empty or unreadable is skipped with its reason."""
    from llm_engineering.application.preprocessing.cleaning import clean_document

    batch = CleanedBatch()
    for doc in documents:
        try:
            batch.documents.append(clean_document(doc))
        except (LLMTwinException, ValueError) as exc:
            logger.warning("Skipped {} ({}): {}", doc.link or doc.id, doc.category.value, exc)
            batch.skipped.append(SkippedDocument(document_id=str(doc.id), link=doc.link, reason=str(exc)))
    return batch


def chunk_and_embed(
    cleaned: CleanedBatch,
    chunkers: Callable[[], dict[DataCategory, Chunker]],
    embedder: Embedder,
    sparse_encoder: SparseEncoder | None = None,
) -> tuple[ChunkBatch, np.ndarray]:
    """Chunk every cleaned document for its category, then embed all chunks in large batches.

    `chunkers` is a factory: a run with nothing to do never loads a tokenizer or a model.
    Without a `sparse_encoder` the chunks get dense vectors only (no hybrid search).
    """
    with_sparse = sparse_encoder is not None
    if not cleaned.documents:
        return ChunkBatch(chunks=[], sparse=[] if with_sparse else None), np.zeros((0, 0), dtype=np.float32)
    by_category = chunkers()
    chunks = [chunk for doc in cleaned.documents for chunk in by_category[doc.category].chunk(doc)]
    texts = [chunk.content for chunk in chunks]
    embeddings = embedder.embed(texts)
    sparse: list[SparseVector] | None = sparse_encoder.encode_documents(texts) if sparse_encoder else None
    return ChunkBatch(chunks=chunks, sparse=sparse), embeddings


def load_to_vector_db(
    index: VectorIndex,
    plan: FeaturePlan,
    cleaned: CleanedBatch,
    batch: ChunkBatch,
    embeddings: np.ndarray,
    *,
    upsert_batch: int = 512,
) -> LoadReport:
    """Write chunks, drop stale ones, then record cleaned documents (the commit marker)."""
    with_sparse = batch.sparse is not None
    dimension = int(embeddings.shape[1]) if len(batch.chunks) else None
    if plan.full:
        for category in DataCategory:
            index.drop_collection(chunk_collection(category))
            index.drop_collection(cleaned_collection(category))
    for category in DataCategory:
        if dimension:
            index.ensure_collection(chunk_collection(category), vector_size=dimension, sparse=with_sparse)
        index.ensure_collection(cleaned_collection(category), vector_size=None)

    by_category: dict[DataCategory, list[int]] = {}
    for position, chunk in enumerate(batch.chunks):
        by_category.setdefault(chunk.category, []).append(position)
    for category, positions in by_category.items():
        name = chunk_collection(category)
        for start in range(0, len(positions), upsert_batch):
            part = positions[start : start + upsert_batch]
            index.upsert(
                name,
                ids=[str(batch.chunks[p].id) for p in part],
                payloads=[batch.chunks[p].payload() for p in part],
                vectors=embeddings[part].tolist(),
                sparse=[(batch.sparse[p].indices, batch.sparse[p].values) for p in part]
                if batch.sparse
                else None,
            )

    _drop_stale_chunks(index, cleaned, batch)
    for category in DataCategory:
        docs = [d for d in cleaned.documents if d.category == category]
        if docs:
            index.upsert(
                cleaned_collection(category),
                ids=[str(d.id) for d in docs],
                payloads=[d.model_dump(mode="json", exclude={"id"}) for d in docs],
            )
    # Documents that became empty or unreadable are gone from the feature store too.
    skipped_ids = [s.document_id for s in cleaned.skipped]
    deleted = skipped_removed = 0
    for category in DataCategory:
        gone = plan.deleted.get(category, []) + skipped_ids
        if gone:
            if index.collection_exists(chunk_collection(category)):
                if skipped_ids:  # a bad document met again has nothing stored: no change for readers
                    had = index.scroll(
                        chunk_collection(category), {"document_id": skipped_ids}, ["document_id"]
                    )
                    skipped_removed += len({payload["document_id"] for _, payload in had})
                index.delete_where(chunk_collection(category), "document_id", gone)
            index.delete(cleaned_collection(category), gone)
        deleted += len(plan.deleted.get(category, []))
    index.flush()

    tokens = np.array([c.token_count for c in batch.chunks]) if batch.chunks else np.zeros(1)
    return LoadReport(
        documents_per_category=dict(Counter(d.category.value for d in cleaned.documents)),
        chunks=len(batch.chunks),
        tokens_per_chunk_p50=float(np.percentile(tokens, 50)),
        tokens_per_chunk_p95=float(np.percentile(tokens, 95)),
        unchanged_skipped=sum(plan.unchanged.values()),
        deleted=deleted,
        skipped_bad=len(cleaned.skipped),
        skipped_removed=skipped_removed,
        rebuilt=plan.full,
    )


def _drop_stale_chunks(index: VectorIndex, cleaned: CleanedBatch, batch: ChunkBatch) -> None:
    """Chunks of re-processed documents that the new chunking no longer produces."""
    fresh_ids = {str(c.id) for c in batch.chunks}
    for category in DataCategory:
        doc_ids = [str(d.id) for d in cleaned.documents if d.category == category]
        if not doc_ids:
            continue
        name = chunk_collection(category)
        if not index.collection_exists(name):
            continue
        stale = [
            pid for pid, _ in index.scroll(name, {"document_id": doc_ids}, fields=[]) if pid not in fresh_ids
        ]
        if stale:
            index.delete(name, stale)


def run_feature_pipeline(
    repository: DocumentRepository,
    index: VectorIndex,
    chunkers: Callable[[], dict[DataCategory, Chunker]],
    embedder: Embedder,
    sparse_encoder: SparseEncoder | None,
    author_full_names: Sequence[str] = (),
    *,
    full: bool = False,
) -> LoadReport:
    """The four steps in one call, for scripts and benchmarks (the ZenML pipeline runs the same)."""
    plan = plan_feature_run(repository, index, author_full_names, full=full)
    cleaned = clean_documents(plan.documents())
    batch, embeddings = chunk_and_embed(cleaned, chunkers, embedder, sparse_encoder)
    return load_to_vector_db(index, plan, cleaned, batch, embeddings)

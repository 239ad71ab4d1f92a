"""The feature pipeline's use cases on the real stores: embedded litemongo and qdrant-edge.

The packaged all-MiniLM-L6-v2 is loaded once per session (its tokenizer drives the chunker).
Documents are few and short, so a run embeds a handful of chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from llm_engineering import bootstrap
from llm_engineering.application import features
from llm_engineering.domain.documents import (
    ArticleDocument,
    ContentDocument,
    PostDocument,
    RepositoryDocument,
    UserDocument,
)
from llm_engineering.domain.features import chunk_collection
from llm_engineering.domain.types import DataCategory
from llm_engineering.infrastructure.models.sparse import Bm25SparseEncoder
from llm_engineering.settings import Settings

D = TypeVar("D", bound=ContentDocument)

#: {collection: {point id: payload}}: everything a run leaves in the vector store, vectors aside
Snapshot = dict[str, dict[str, dict[str, Any]]]


def make_settings(data_dir: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, DATA_DIR=data_dir, **values)


@pytest.fixture(scope="session")
def embedder() -> Any:
    model = bootstrap.build_embedder(make_settings(Path("/nonexistent")))
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def chunkers(embedder: Any) -> dict[DataCategory, Any]:
    """The real chunkers: MiniLM's own tokenizer and sequence limit."""
    return bootstrap.build_chunkers(make_settings(Path("/nonexistent")), embedder)


class SpyEmbedder:
    """The real embedder, counting what it is asked to embed (a no-op run must embed nothing)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.dimension = inner.dimension
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts)


@dataclass
class Stores:
    """One DATA_DIR's warehouse and writer index, plus helpers to fill and run them."""

    settings: Settings
    repository: Any
    index: Any
    chunkers: dict[DataCategory, Any]
    embedder: Any
    chunker_loads: list[int] = field(default_factory=list)

    def user(self, full_name: str) -> UserDocument:
        return self.repository.get_or_create_user(full_name)

    def _saved(self, doc: D, identity: str) -> D:
        """Save `doc` and read it back as stored (ids and hashes as the warehouse sets them)."""
        self.repository.save(doc)
        stored = self.repository.find_by_identity(type(doc), identity)
        assert stored is not None
        return stored

    def article(self, author: UserDocument, slug: str, text: str, title: str = "") -> ArticleDocument:
        doc = ArticleDocument(
            content={"Title": title or slug.replace("-", " ").title(), "Content": text},
            platform="medium",
            link=f"https://medium.com/@test/{slug}",
            author_id=author.id,
            author_full_name=author.full_name,
        )
        return self._saved(doc, doc.link)

    def post(self, author: UserDocument, post_id: str, text: str) -> PostDocument:
        doc = PostDocument(
            content={"text": text},
            platform="linkedin",
            link=f"https://www.linkedin.com/feed/update/urn:li:activity:{post_id}",
            post_id=post_id,
            author_id=author.id,
            author_full_name=author.full_name,
        )
        return self._saved(doc, post_id)

    def repo(self, author: UserDocument, name: str, files: dict[str, str]) -> RepositoryDocument:
        doc = RepositoryDocument(
            content=files,
            platform="github",
            link=f"https://github.com/test/{name}",
            name=name,
            author_id=author.id,
            author_full_name=author.full_name,
        )
        return self._saved(doc, doc.link)

    def run(
        self, authors: tuple[str, ...] = (), *, full: bool = False, index: Any = None
    ) -> features.LoadReport:
        def load_chunkers() -> dict[DataCategory, Any]:
            self.chunker_loads.append(1)
            return self.chunkers

        return features.run_feature_pipeline(
            self.repository,
            index or self.index,
            load_chunkers,
            self.embedder,
            Bm25SparseEncoder(),
            authors,
            full=full,
        )

    def snapshot(self, index: Any = None) -> Snapshot:
        return snapshot(index or self.index)

    def chunks_of(self, document: ContentDocument) -> dict[str, dict[str, Any]]:
        return {
            point_id: payload
            for point_id, payload in self.index.scroll(
                chunk_collection(document.category), {"document_id": str(document.id)}
            )
        }


def snapshot(index: Any) -> Snapshot:
    return {name: dict(index.scroll(name)) for name in index.list_collections()}


@pytest.fixture
def open_stores(
    tmp_path: Path, embedder: Any, chunkers: dict[DataCategory, Any]
) -> Iterator[Callable[..., Stores]]:
    """Opens a warehouse + writer index under tmp_path/<name>; everything opened is closed after."""
    opened: list[Any] = []

    def open_(name: str = "data", **values: Any) -> Stores:
        settings = make_settings(tmp_path / name, **values)
        repository = bootstrap.connect_warehouse(settings)
        opened.append(repository)
        context = bootstrap.Services(settings).vector_writer()
        index = context.__enter__()
        opened.append(context)
        return Stores(settings, repository, index, chunkers, SpyEmbedder(embedder))

    yield open_
    for thing in reversed(opened):
        if hasattr(thing, "__exit__"):
            thing.__exit__(None, None, None)
        else:
            thing.close()


@pytest.fixture
def stores(open_stores: Callable[..., Stores]) -> Stores:
    return open_stores()

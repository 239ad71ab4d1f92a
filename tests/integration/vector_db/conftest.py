"""Vector index fixtures: the same contract runs on every adapter of the `VectorIndex` port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llm_engineering.infrastructure.db.qdrant import QdrantVectorIndex

#: "edge": EdgeQdrantClient (the embedded default) directly; "release-writer": the same engine
#: behind the writer's release machinery; "qdrant-local": qdrant-client's own local mode, the real
#: qdrant-client code path standing in for a server's API. Local mode is slow (~100 writes/s,
#: ~130 ms searches at scale), so every contract test keeps its data tiny.
ADAPTERS = ("edge", "release-writer", "qdrant-local")


def open_index(kind: str, path: Path) -> QdrantVectorIndex:
    if kind == "edge":
        from llm_engineering.infrastructure.db.qdrant_edge_client import EdgeQdrantClient

        return QdrantVectorIndex(EdgeQdrantClient(path))
    if kind == "release-writer":
        from llm_engineering.infrastructure.db.vector_releases import ReleaseWriterIndex

        return ReleaseWriterIndex.open(path)
    if kind == "qdrant-local":
        from qdrant_client import QdrantClient

        return QdrantVectorIndex(QdrantClient(path=str(path)))
    raise ValueError(kind)


@pytest.fixture(params=ADAPTERS)
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], QdrantVectorIndex]]:
    """Opens (again) an index of the parametrized kind on one folder; closes what it opened."""
    opened: list[QdrantVectorIndex] = []

    def make() -> QdrantVectorIndex:
        index = open_index(request.param, tmp_path / "vectors")
        opened.append(index)
        return index

    yield make
    for index in opened:
        index.close()


@pytest.fixture
def index(reopen: Callable[[], QdrantVectorIndex]) -> QdrantVectorIndex:
    return reopen()

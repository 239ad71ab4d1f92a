"""Which vector store a process gets: a Qdrant server if QDRANT_URL is set, else the embedded one.

Embedded, a writer owns `vector_dir/work/` (one writer process at a time) and `publish()`es
immutable releases; a reader opens the current release and `refresh()`es to newer ones (see
`vector_releases` for why). A server needs neither: both modes get a plain `QdrantVectorIndex`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

from llm_engineering.domain.exceptions import StoreUnavailable
from llm_engineering.infrastructure.db.qdrant import QdrantVectorIndex, connect_server

if TYPE_CHECKING:
    from llm_engineering.application.ports import VectorIndex, VectorReader
    from llm_engineering.settings import Settings


@overload
def connect_vector_index(settings: Settings, *, mode: Literal["writer"]) -> VectorIndex: ...


@overload
def connect_vector_index(settings: Settings, *, mode: Literal["reader"]) -> VectorReader: ...


def connect_vector_index(settings: Settings, *, mode: Literal["reader", "writer"]) -> VectorReader:
    """The vector index for this process: "writer" writes (and reads what it wrote), "reader" reads."""
    if mode not in ("reader", "writer"):
        raise ValueError(f"mode must be 'reader' or 'writer', got {mode!r}")
    if settings.QDRANT_URL:
        api_key = settings.QDRANT_API_KEY.get_secret_value() if settings.QDRANT_API_KEY else None
        return QdrantVectorIndex(connect_server(settings.QDRANT_URL, api_key))

    from llm_engineering.infrastructure.db.vector_releases import ReleaseReaderIndex, ReleaseWriterIndex

    try:
        if mode == "writer":
            return ReleaseWriterIndex.open(settings.vector_dir)
        return ReleaseReaderIndex.open(settings.vector_dir)
    except OSError as exc:  # a read-only or missing DATA_DIR, a full disk
        reason = exc.strerror or type(exc).__name__
        raise StoreUnavailable(
            f"the embedded vector store at {settings.vector_dir} cannot be opened ({reason}): "
            "set DATA_DIR to a writable folder"
        ) from None

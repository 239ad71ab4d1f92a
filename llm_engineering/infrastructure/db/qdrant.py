"""The `VectorIndex` port over qdrant-client's API: a Qdrant server, or qdrant-edge in process.

`QdrantVectorIndex` makes the same calls on a real `QdrantClient` (QDRANT_URL set) and on
`EdgeQdrantClient` (embedded default, under DATA_DIR). Vectors are named: "dense" (cosine) and,
optionally, "sparse" (term frequencies; the engine applies IDF, `Modifier.IDF`, so document
weights never go stale as the corpus grows). Hybrid search fuses a dense and a sparse prefetch
with reciprocal rank fusion inside the engine.

Sparse term weights come from the `SparseEncoder` port (`infrastructure.models.sparse`:
qdrant-edge's own `Bm25`, Rust tokenizer, English stemming and stopwords, BM25 k/b length
saturation), which runs without a model download and gives the same indices in both modes.
`vector_factory` picks the server or the embedded store for a process.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from loguru import logger

from llm_engineering.domain.exceptions import StoreUnavailable

if TYPE_CHECKING:
    from qdrant_client import models

    from llm_engineering.application.ports import ScoredPoint, SparseTuple

DENSE = "dense"
SPARSE = "sparse"
#: Payload fields the application filters on; keyword-indexed where the engine supports it.
KEYWORD_FIELDS: tuple[str, ...] = ("author_full_name", "author_id", "category", "document_id", "link")
#: Points per upsert request: keeps server requests far below Qdrant's 32 MiB body limit.
UPSERT_BATCH = 256
SCROLL_PAGE = 256
#: Seconds the connect-time check waits for a Qdrant server before giving up.
SERVER_CHECK_TIMEOUT = 3.0


class ClientGate:
    """Hands out the current client and lets a swap (publish, refresh) wait for calls in flight.

    Every index call borrows the client for its duration; `exclusive()` stops new borrows, waits
    for running ones and runs alone, so closing or replacing a client never cuts a query short.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._cond = threading.Condition()
        self._users = 0
        self._exclusive = False

    @contextmanager
    def borrow(self) -> Iterator[Any]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._users += 1
            client = self.client
        try:
            yield client
        finally:
            with self._cond:
                self._users -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._exclusive = True
            while self._users:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class QdrantVectorIndex:
    """`VectorIndex` over anything that speaks qdrant-client's calls (QdrantClient, EdgeQdrantClient)."""

    def __init__(self, client: Any) -> None:
        self._gate = ClientGate(client)

    # --- collections ------------------------------------------------------------------------

    def ensure_collection(self, name: str, *, vector_size: int | None, sparse: bool = False) -> None:
        from qdrant_client import models

        with self._gate.borrow() as client:
            if client.collection_exists(name):
                return
            vectors: dict[str, models.VectorParams] = {}
            if vector_size is not None:
                vectors[DENSE] = models.VectorParams(size=vector_size, distance=models.Distance.COSINE)
            sparse_config = (
                {SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)} if sparse else None
            )
            client.create_collection(name, vectors_config=vectors, sparse_vectors_config=sparse_config)
            with warnings.catch_warnings():
                # qdrant-client's local mode warns that payload indexes do nothing there; servers use them.
                warnings.filterwarnings("ignore", message="Payload indexes have no effect")
                for field in KEYWORD_FIELDS:
                    client.create_payload_index(name, field, field_schema=models.PayloadSchemaType.KEYWORD)
        logger.info("created vector collection {} (dense={}, sparse={})", name, vector_size, sparse)

    def collection_exists(self, name: str) -> bool:
        with self._gate.borrow() as client:
            return bool(client.collection_exists(name))

    def list_collections(self) -> list[str]:
        with self._gate.borrow() as client:
            return sorted(c.name for c in client.get_collections().collections)

    def drop_collection(self, name: str) -> None:
        with self._gate.borrow() as client:
            client.delete_collection(name)

    # --- points -----------------------------------------------------------------------------

    def upsert(
        self,
        name: str,
        ids: list[str],
        payloads: list[dict[str, Any]],
        vectors: list[list[float]] | None = None,
        sparse: list[SparseTuple] | None = None,
    ) -> None:
        from qdrant_client import models

        for label, column in (("payloads", payloads), ("vectors", vectors), ("sparse", sparse)):
            if column is not None and len(column) != len(ids):
                raise ValueError(f"upsert into {name!r}: {len(ids)} ids but {len(column)} {label}")
        points = []
        for i, point_id in enumerate(ids):
            vector: dict[str, Any] = {}
            if vectors is not None:
                vector[DENSE] = list(vectors[i])
            if sparse is not None:
                indices, values = sparse[i]
                vector[SPARSE] = models.SparseVector(indices=list(indices), values=list(values))
            points.append(models.PointStruct(id=str(point_id), vector=vector, payload=payloads[i]))
        with self._gate.borrow() as client:
            for start in range(0, len(points), UPSERT_BATCH):
                client.upsert(name, points=points[start : start + UPSERT_BATCH], wait=True)

    def delete(self, name: str, ids: list[str]) -> None:
        from qdrant_client import models

        if not ids:
            return
        with self._gate.borrow() as client:
            client.delete(name, points_selector=models.PointIdsList(points=[str(i) for i in ids]))

    def delete_where(self, name: str, field: str, values: list[str]) -> None:
        """Delete every point whose payload `field` is one of `values`."""
        from qdrant_client import models

        if not values:
            return
        selector = models.FilterSelector(filter=build_filter({field: list(values)}))
        with self._gate.borrow() as client:
            client.delete(name, points_selector=selector)

    def scroll(
        self, name: str, filters: dict[str, Any] | None = None, fields: list[str] | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every (id, payload) matching exact-match `filters`, a page per call to the engine."""
        flt = build_filter(filters)
        offset: Any = None
        while True:
            with self._gate.borrow() as client:
                records, offset = client.scroll(
                    name,
                    scroll_filter=flt,
                    limit=SCROLL_PAGE,
                    offset=offset,
                    with_payload=list(fields) if fields is not None else True,
                    with_vectors=False,
                )
            for record in records:
                yield str(record.id), dict(record.payload or {})
            if offset is None:
                return

    def count(self, name: str) -> int:
        with self._gate.borrow() as client:
            return int(client.count(name, exact=True).count)

    # --- search -----------------------------------------------------------------------------

    def search(
        self, name: str, vector: list[float], *, limit: int, filters: dict[str, Any] | None = None
    ) -> list[ScoredPoint]:
        """Dense nearest neighbours: (id, score, payload), best first."""
        with self._gate.borrow() as client:
            response = client.query_points(
                name,
                query=list(vector),
                using=DENSE,
                query_filter=build_filter(filters),
                limit=limit,
                with_payload=True,
            )
        return [(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    def hybrid_search(
        self,
        name: str,
        vector: list[float],
        sparse: SparseTuple,
        *,
        limit: int,
        filters: dict[str, Any] | None = None,
    ) -> list[ScoredPoint]:
        """Dense + sparse candidates (each filtered) fused with reciprocal rank fusion."""
        from qdrant_client import models

        flt = build_filter(filters)
        candidates = max(4 * limit, 40)
        indices, values = sparse
        prefetch = [
            models.Prefetch(query=list(vector), using=DENSE, limit=candidates, filter=flt),
            models.Prefetch(
                query=models.SparseVector(indices=list(indices), values=list(values)),
                using=SPARSE,
                limit=candidates,
                filter=flt,
            ),
        ]
        with self._gate.borrow() as client:
            response = client.query_points(
                name,
                prefetch=prefetch,
                query=models.FusionQuery(fusion=models.Fusion.RRF),
                query_filter=flt,
                limit=limit,
                with_payload=True,
            )
        return [(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    # --- lifecycle --------------------------------------------------------------------------

    def flush(self) -> None:
        """Persist pending writes: qdrant-edge needs it, a server and qdrant-client's local mode do not."""
        with self._gate.borrow() as client:
            flush = getattr(client, "flush", None)
            if callable(flush):
                flush()

    def publish(self) -> str | None:
        """Make writes visible to readers in other processes; a server does so at once (no-op)."""
        return None

    def refresh(self) -> bool:
        """Switch to the newest published data; a server always serves it (no-op, False)."""
        return False

    def replace_client(self, client: Any) -> Any:
        """Serve from `client` once calls in flight are done; returns the old one for the caller to close."""
        with self._gate.exclusive():
            old, self._gate.client = self._gate.client, client
        return old

    def close(self) -> None:
        with self._gate.exclusive():
            self._gate.client.close()


def build_filter(filters: dict[str, Any] | None) -> models.Filter | None:
    """Exact-match filters: a scalar matches one value, a list/tuple/set matches any of its values."""
    from qdrant_client import models

    if not filters:
        return None
    conditions: list[Any] = []
    for key, value in filters.items():
        if isinstance(value, list | tuple | set | frozenset):
            match: Any = models.MatchAny(any=[_plain(v) for v in value])
        else:
            match = models.MatchValue(value=_plain(value))
        conditions.append(models.FieldCondition(key=key, match=match))
    return models.Filter(must=conditions)


def _plain(value: Any) -> Any:
    """UUIDs and enums as the strings stored in payloads (payloads are JSON)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    return value


def redacted_url(url: str) -> str:
    """`url` for messages: no `user:password@`, no query (where keys hide), no fragment."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<the QDRANT_URL setting, which is malformed>"
    netloc = ("***@" if "@" in parts.netloc else "") + (f"[{host}]" if ":" in host else host) + port
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def connect_server(url: str, api_key: str | None, *, timeout: float = SERVER_CHECK_TIMEOUT) -> Any:
    """A `QdrantClient` for `url`, checked now with a short timeout so a dead server fails at once."""
    import httpx
    from qdrant_client import QdrantClient

    headers = {"api-key": api_key} if api_key else {}
    shown = redacted_url(url)  # never print a password in the URL, nor the key
    try:
        response = httpx.get(url.rstrip("/") + "/collections", headers=headers, timeout=timeout)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise StoreUnavailable(
            f"Qdrant server at {shown} is unreachable ({type(exc).__name__}): start it, fix QDRANT_URL, "
            "or unset QDRANT_URL to use the embedded store under DATA_DIR"
        ) from exc
    if response.status_code in (401, 403):
        raise StoreUnavailable(
            f"Qdrant server at {shown} rejected the API key (HTTP {response.status_code}): "
            "check QDRANT_API_KEY"
        )
    if response.status_code >= 400:
        raise StoreUnavailable(
            f"{shown} answered HTTP {response.status_code} on /collections: is QDRANT_URL a Qdrant server?"
        )
    _log_server_version(url, headers, timeout)
    # qdrant-client's own version check runs in a background thread and warns whenever it ends;
    # the check above has already talked to the server, so it is done here, synchronously.
    return QdrantClient(url=url, api_key=api_key, check_compatibility=False)


def _log_server_version(url: str, headers: dict[str, str], timeout: float) -> None:
    import importlib.metadata

    import httpx

    try:
        server = str(httpx.get(url, headers=headers, timeout=timeout).json().get("version", ""))
    except (httpx.HTTPError, ValueError, AttributeError):
        server = ""
    client = importlib.metadata.version("qdrant-client")
    logger.info(
        "using the Qdrant server at {} (version {}; qdrant-client {})",
        redacted_url(url),
        server or "unknown",
        client,
    )
    try:
        (s_major, s_minor), (c_major, c_minor) = (
            tuple(int(x) for x in v.split(".")[:2]) for v in (server, client)
        )
    except ValueError:
        return
    if s_major != c_major or abs(s_minor - c_minor) > 1:
        logger.warning(
            "Qdrant server {} and qdrant-client {} may be incompatible: align their versions", server, client
        )

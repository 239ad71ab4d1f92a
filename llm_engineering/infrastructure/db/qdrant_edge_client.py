"""The part of qdrant-client's `QdrantClient` API this project uses, served by qdrant-edge in process.

No Qdrant server can run everywhere the project runs, but Qdrant's own engine ships as a library
(qdrant-edge-py). This adapter takes and returns `qdrant_client.models` types, so the same code
(`QdrantVectorIndex`) talks to a server through `QdrantClient` or to this class. Each collection is
one `EdgeShard` in its own subfolder of `path`. Anything outside the subset raises
`NotImplementedError` naming what is missing, instead of half-working.

qdrant-edge locks a shard folder (its WAL) to one open handle: one process, one client per folder.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from loguru import logger

if TYPE_CHECKING:
    import qdrant_edge as qe
    from qdrant_client import models
    from qdrant_client.http import models as rest

#: A collection with no vectors still needs one for qdrant-edge: this hidden sparse one, never filled.
PAYLOAD_ONLY_PLACEHOLDER = "__payload_only__"
_CONFIG_FILE = "edge_config.json"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
#: qdrant-client (server and local mode) fuses with k=2 when `FusionQuery(fusion=RRF)` names no k.
_DEFAULT_RRF_K = 2


class EdgeQdrantClient:
    """`QdrantClient`-compatible calls over one qdrant-edge shard per collection under `path`."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._path.mkdir(parents=True, exist_ok=True)
        self._shards: dict[str, qe.EdgeShard] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def path(self) -> Path:
        return self._path

    # --- collections ------------------------------------------------------------------------

    def collection_exists(self, collection_name: str) -> bool:
        return (self._folder(collection_name) / _CONFIG_FILE).is_file()

    def get_collections(self) -> models.CollectionsResponse:
        from qdrant_client import models

        names = sorted(p.name for p in self._path.iterdir() if (p / _CONFIG_FILE).is_file())
        return models.CollectionsResponse(collections=[models.CollectionDescription(name=n) for n in names])

    def create_collection(
        self,
        collection_name: str,
        vectors_config: models.VectorParams | Mapping[str, models.VectorParams] | None = None,
        sparse_vectors_config: Mapping[str, models.SparseVectorParams] | None = None,
        **kwargs: Any,
    ) -> bool:
        """Create the shard; like the server, an existing collection is an error (ValueError)."""
        import qdrant_edge as qe

        _refuse(kwargs, "create_collection")
        if self.collection_exists(collection_name):
            raise ValueError(f"Collection {collection_name!r} already exists under {self._path}")
        dense = _edge_vectors(vectors_config)
        sparse = {name: _edge_sparse_params(p) for name, p in (sparse_vectors_config or {}).items()}
        if not dense and not sparse:
            sparse = {PAYLOAD_ONLY_PLACEHOLDER: qe.EdgeSparseVectorParams()}
        folder = self._folder(collection_name)
        if folder.exists():  # a half-created folder from a crash: no config file, nothing to keep
            shutil.rmtree(folder)
        config = qe.EdgeConfig(vectors=dense or None, sparse_vectors=sparse or None)
        with self._lock:
            self._check_open()
            self._shards[collection_name] = qe.EdgeShard.create(str(folder), config)
        logger.debug("created edge collection {} in {}", collection_name, folder)
        return True

    def delete_collection(self, collection_name: str, **kwargs: Any) -> bool:
        _refuse(kwargs, "delete_collection")
        folder = self._folder(collection_name)
        with self._lock:
            shard = self._shards.pop(collection_name, None)
            if shard is not None:
                shard.close()
        if not folder.exists():
            return False
        shutil.rmtree(folder)
        return True

    def create_payload_index(
        self,
        collection_name: str,
        field_name: str,
        field_schema: models.PayloadSchemaType | None = None,
        **kwargs: Any,
    ) -> models.UpdateResult:
        import qdrant_edge as qe
        from qdrant_client import models

        kwargs.pop("wait", None)
        _refuse(kwargs, "create_payload_index")
        schemas = {
            models.PayloadSchemaType.KEYWORD: qe.PayloadSchemaType.Keyword,
            models.PayloadSchemaType.INTEGER: qe.PayloadSchemaType.Integer,
            models.PayloadSchemaType.FLOAT: qe.PayloadSchemaType.Float,
            models.PayloadSchemaType.BOOL: qe.PayloadSchemaType.Bool,
            models.PayloadSchemaType.UUID: qe.PayloadSchemaType.Uuid,
            models.PayloadSchemaType.DATETIME: qe.PayloadSchemaType.Datetime,
        }
        if field_schema not in schemas:
            raise NotImplementedError(
                f"EdgeQdrantClient indexes only {sorted(schemas)}; got {field_schema!r}"
            )
        self._shard(collection_name).update(
            qe.UpdateOperation.create_field_index(field_name, schemas[field_schema])
        )
        return _completed()

    # --- points -----------------------------------------------------------------------------

    def upsert(
        self, collection_name: str, points: Sequence[models.PointStruct], wait: bool = True, **kwargs: Any
    ) -> models.UpdateResult:
        """Insert or replace points; qdrant-edge applies them synchronously, so `wait` changes nothing."""
        import qdrant_edge as qe
        from qdrant_client import models

        _refuse(kwargs, "upsert")
        if not isinstance(points, Sequence):
            raise NotImplementedError("EdgeQdrantClient.upsert takes a list of PointStruct (not a Batch)")
        edge_points = []
        for point in points:
            if not isinstance(point, models.PointStruct):
                raise NotImplementedError(
                    f"EdgeQdrantClient.upsert takes PointStruct, got {type(point).__name__}"
                )
            edge_points.append(qe.Point(_point_id(point.id), _edge_vector(point.vector), point.payload))
        if edge_points:
            self._shard(collection_name).update(qe.UpdateOperation.upsert_points(edge_points))
        return _completed()

    def delete(
        self,
        collection_name: str,
        points_selector: models.PointIdsList | models.FilterSelector,
        wait: bool = True,
        **kwargs: Any,
    ) -> models.UpdateResult:
        import qdrant_edge as qe
        from qdrant_client import models

        _refuse(kwargs, "delete")
        if isinstance(points_selector, models.PointIdsList):
            operation = qe.UpdateOperation.delete_points([_point_id(i) for i in points_selector.points])
        elif isinstance(points_selector, models.FilterSelector):
            operation = qe.UpdateOperation.delete_points_by_filter(to_edge_filter(points_selector.filter))
        else:
            raise NotImplementedError("EdgeQdrantClient.delete takes PointIdsList or FilterSelector")
        self._shard(collection_name).update(operation)
        return _completed()

    def scroll(
        self,
        collection_name: str,
        scroll_filter: models.Filter | None = None,
        limit: int = 10,
        offset: int | str | None = None,
        with_payload: bool | Sequence[str] = True,
        with_vectors: bool | Sequence[str] = False,
        **kwargs: Any,
    ) -> tuple[list[models.Record], int | str | None]:
        import qdrant_edge as qe

        _refuse(kwargs, "scroll")
        request = qe.ScrollRequest(
            offset=_point_id(offset) if offset is not None else None,
            limit=limit,
            filter=to_edge_filter(scroll_filter),
            with_payload=_with_payload(with_payload),
            with_vector=_with_vectors(with_vectors),
        )
        records, next_offset = self._shard(collection_name).scroll(request)
        return [_record(r) for r in records], _client_id(next_offset) if next_offset is not None else None

    def count(
        self,
        collection_name: str,
        count_filter: models.Filter | None = None,
        exact: bool = True,
        **kwargs: Any,
    ) -> models.CountResult:
        import qdrant_edge as qe
        from qdrant_client import models

        _refuse(kwargs, "count")
        request = qe.CountRequest(exact=exact, filter=to_edge_filter(count_filter))
        return models.CountResult(count=self._shard(collection_name).count(request))

    def retrieve(
        self,
        collection_name: str,
        ids: Sequence[int | str | UUID],
        with_payload: bool | Sequence[str] = True,
        with_vectors: bool | Sequence[str] = False,
        **kwargs: Any,
    ) -> list[models.Record]:
        _refuse(kwargs, "retrieve")
        records = self._shard(collection_name).retrieve(
            [_point_id(i) for i in ids], _with_payload(with_payload), _with_vectors(with_vectors)
        )
        return [_record(r) for r in records]

    def query_points(
        self,
        collection_name: str,
        query: Any = None,
        using: str | None = None,
        prefetch: models.Prefetch | Sequence[models.Prefetch] | None = None,
        query_filter: models.Filter | None = None,
        search_params: models.SearchParams | None = None,
        limit: int = 10,
        offset: int | None = None,
        with_payload: bool | Sequence[str] = True,
        with_vectors: bool | Sequence[str] = False,
        score_threshold: float | None = None,
        **kwargs: Any,
    ) -> rest.QueryResponse:
        """Nearest (dense or sparse) queries and RRF/DBSF fusion over prefetches."""
        import qdrant_edge as qe
        from qdrant_client import models
        from qdrant_client.http import models as rest  # `models.QueryResponse` is fastembed's

        _refuse(kwargs, "query_points")
        request = qe.QueryRequest(
            limit=limit,
            offset=offset,
            query=_edge_query(query, using),
            prefetches=_edge_prefetches(prefetch),
            with_vector=_with_vectors(with_vectors),
            with_payload=_with_payload(with_payload),
            filter=to_edge_filter(query_filter),
            score_threshold=score_threshold,
            params=_edge_search_params(search_params),
        )
        points = [
            models.ScoredPoint(
                id=_client_id(p.id),
                version=p.version,
                score=p.score,
                payload=p.payload,
                vector=_client_vector(p.vector),
            )
            for p in self._shard(collection_name).query(request)
        ]
        return rest.QueryResponse(points=points)

    # --- qdrant-edge specifics (not in QdrantClient) ----------------------------------------

    def flush(self) -> None:
        """Persist every open shard's pending changes (a server does this on its own)."""
        with self._lock:
            for shard in self._shards.values():
                shard.flush()

    def optimize(self) -> None:
        """Merge segments and build HNSW indexes in process (a server runs this in the background)."""
        for name in [c.name for c in self.get_collections().collections]:
            self._shard(name).optimize()

    def close(self, **kwargs: Any) -> None:
        """Flush and close every shard, releasing their folder locks. Idempotent."""
        with self._lock:
            shards, self._shards = self._shards, {}
            self._closed = True
        for shard in shards.values():
            shard.flush()
            shard.close()

    # --- internals --------------------------------------------------------------------------

    def _folder(self, collection_name: str) -> Path:
        if not _NAME.match(collection_name):
            raise ValueError(
                f"collection name {collection_name!r} must be letters, digits, '_', '-' or '.' "
                "(it becomes a folder name)"
            )
        return self._path / collection_name

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"EdgeQdrantClient for {self._path} is closed")

    def _shard(self, collection_name: str) -> qe.EdgeShard:
        import qdrant_edge as qe

        with self._lock:
            self._check_open()
            shard = self._shards.get(collection_name)
            if shard is None:
                if not self.collection_exists(collection_name):
                    raise ValueError(f"Collection {collection_name!r} not found under {self._path}")
                shard = self._shards[collection_name] = qe.EdgeShard.load(str(self._folder(collection_name)))
            return shard


# --- conversions: qdrant_client.models -> qdrant_edge ---------------------------------------


def _refuse(kwargs: dict[str, Any], call: str) -> None:
    if kwargs:
        raise NotImplementedError(f"EdgeQdrantClient.{call} does not support {sorted(kwargs)}")


def _completed() -> models.UpdateResult:
    from qdrant_client import models

    return models.UpdateResult(operation_id=None, status=models.UpdateStatus.COMPLETED)


def _point_id(point_id: int | str | UUID) -> int | str:
    if isinstance(point_id, UUID):
        return str(point_id)
    return point_id


def _client_id(point_id: Any) -> int | str:
    """qdrant-edge hands back UUID objects; qdrant-client's models use the string form."""
    return str(point_id) if isinstance(point_id, UUID) else point_id


def _distance(distance: models.Distance) -> qe.Distance:
    import qdrant_edge as qe
    from qdrant_client import models

    table = {
        models.Distance.COSINE: qe.Distance.Cosine,
        models.Distance.DOT: qe.Distance.Dot,
        models.Distance.EUCLID: qe.Distance.Euclid,
        models.Distance.MANHATTAN: qe.Distance.Manhattan,
    }
    return table[distance]


def _edge_vectors(
    config: models.VectorParams | Mapping[str, models.VectorParams] | None,
) -> dict[str, qe.EdgeVectorParams]:
    import qdrant_edge as qe
    from qdrant_client import models

    if config is None:
        return {}
    named = {"": config} if isinstance(config, models.VectorParams) else dict(config)
    out = {}
    for name, params in named.items():
        if params.multivector_config is not None or params.quantization_config is not None:
            raise NotImplementedError("EdgeQdrantClient supports plain dense vectors only")
        out[name] = qe.EdgeVectorParams(params.size, _distance(params.distance))
    return out


def _edge_sparse_params(params: models.SparseVectorParams) -> qe.EdgeSparseVectorParams:
    import qdrant_edge as qe
    from qdrant_client import models

    if params.modifier in (None, models.Modifier.NONE):
        return qe.EdgeSparseVectorParams()
    if params.modifier == models.Modifier.IDF:
        return qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)
    raise NotImplementedError(f"EdgeQdrantClient: unsupported sparse modifier {params.modifier!r}")


def _dense(values: Any) -> list[float]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _edge_vector(vector: Any) -> Any:
    """A PointStruct's vector: a plain list (the unnamed vector) or a dict of named dense/sparse ones."""
    import qdrant_edge as qe
    from qdrant_client import models

    if isinstance(vector, Mapping):
        out: dict[str, Any] = {}
        for name, value in vector.items():
            if isinstance(value, models.SparseVector):
                out[name] = qe.SparseVector(value.indices, value.values)
            elif isinstance(value, models.Document | models.Image | models.InferenceObject):
                raise NotImplementedError("EdgeQdrantClient takes computed vectors, not inference objects")
            else:
                out[name] = _dense(value)
        return out
    if vector is None:
        return {}
    return _dense(vector)


def _edge_query(query: Any, using: str | None) -> Any:
    import qdrant_edge as qe
    from qdrant_client import models

    if query is None:
        return None
    if isinstance(query, models.NearestQuery):
        if query.mmr is not None:
            raise NotImplementedError("EdgeQdrantClient does not support MMR queries")
        query = query.nearest
    if isinstance(query, models.FusionQuery):
        if query.fusion == models.Fusion.RRF:
            return qe.Fusion.Rrf(k=_DEFAULT_RRF_K)
        return qe.Fusion.Dbsf()
    if isinstance(query, models.RrfQuery):
        return qe.Fusion.Rrf(k=query.rrf.k or _DEFAULT_RRF_K, weights=query.rrf.weights)
    if isinstance(query, models.SparseVector):
        return qe.Query.Nearest(qe.SparseVector(query.indices, query.values), using=using)
    if (isinstance(query, Sequence) or hasattr(query, "tolist")) and not isinstance(query, str | bytes):
        values = _dense(query)
        if values and all(isinstance(v, float | int) for v in values):
            return qe.Query.Nearest([float(v) for v in values], using=using)
    raise NotImplementedError(
        "EdgeQdrantClient.query_points supports dense/sparse nearest and fusion queries, "
        f"not {type(query).__name__}"
    )


def _edge_prefetches(
    prefetch: models.Prefetch | Sequence[models.Prefetch] | None,
) -> list[qe.Prefetch] | None:
    import qdrant_edge as qe
    from qdrant_client import models

    if prefetch is None:
        return None
    items = [prefetch] if isinstance(prefetch, models.Prefetch) else list(prefetch)
    out = []
    for item in items:
        if item.lookup_from is not None:
            raise NotImplementedError("EdgeQdrantClient: Prefetch.lookup_from is not supported")
        out.append(
            qe.Prefetch(
                limit=item.limit if item.limit is not None else 10,
                query=_edge_query(item.query, item.using),
                prefetches=_edge_prefetches(item.prefetch),
                params=_edge_search_params(item.params),
                filter=to_edge_filter(item.filter),
                score_threshold=item.score_threshold,
            )
        )
    return out


def _edge_search_params(params: models.SearchParams | None) -> qe.SearchParams | None:
    import qdrant_edge as qe

    if params is None:
        return None
    return qe.SearchParams(hnsw_ef=params.hnsw_ef, exact=bool(params.exact))


def to_edge_filter(flt: models.Filter | None) -> qe.Filter | None:
    """Filter(must/should/must_not) of FieldCondition(MatchValue | MatchAny), HasIdCondition and Filter."""
    import qdrant_edge as qe
    from qdrant_client import models

    if flt is None:
        return None
    if not isinstance(flt, models.Filter):
        raise NotImplementedError(f"EdgeQdrantClient takes a models.Filter, got {type(flt).__name__}")
    if flt.min_should is not None:
        raise NotImplementedError("EdgeQdrantClient filters do not support min_should")

    def conditions(part: Any) -> list[Any] | None:
        if part is None:
            return None
        return [_edge_condition(c) for c in (part if isinstance(part, list) else [part])]

    return qe.Filter(
        must=conditions(flt.must), should=conditions(flt.should), must_not=conditions(flt.must_not)
    )


def _edge_condition(condition: Any) -> Any:
    import qdrant_edge as qe
    from qdrant_client import models

    if isinstance(condition, models.Filter):
        return to_edge_filter(condition)
    if isinstance(condition, models.HasIdCondition):
        return qe.HasIdCondition({_point_id(i) for i in condition.has_id})
    if isinstance(condition, models.FieldCondition):
        others = condition.model_dump(exclude={"key", "match"}, exclude_none=True)
        if others or condition.match is None:
            raise NotImplementedError(f"EdgeQdrantClient filters support match conditions only, got {others}")
        if isinstance(condition.match, models.MatchValue):
            return qe.FieldCondition(condition.key, match=qe.MatchValue(condition.match.value))
        if isinstance(condition.match, models.MatchAny):
            return qe.FieldCondition(condition.key, match=qe.MatchAny(list(condition.match.any)))
    raise NotImplementedError(
        f"EdgeQdrantClient filters support FieldCondition(MatchValue|MatchAny), HasIdCondition and "
        f"nested Filter, not {condition!r}"
    )


def _with_payload(value: Any) -> Any:
    from qdrant_client import models

    if isinstance(value, bool):
        return value
    if isinstance(value, models.PayloadSelectorInclude):
        return list(value.include)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    raise NotImplementedError(f"EdgeQdrantClient: with_payload must be a bool or field list, got {value!r}")


def _with_vectors(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    raise NotImplementedError(f"EdgeQdrantClient: with_vectors must be a bool or name list, got {value!r}")


# --- conversions: qdrant_edge -> qdrant_client.models ---------------------------------------


def _client_vector(vector: Any) -> Any:
    """Named vectors as qdrant-client returns them, hiding the payload-only placeholder."""
    from qdrant_client import models

    if vector is None or not isinstance(vector, Mapping):
        return vector
    out: dict[str, Any] = {}
    for name, value in vector.items():
        if name == PAYLOAD_ONLY_PLACEHOLDER:
            continue
        if hasattr(value, "indices"):
            out[name] = models.SparseVector(indices=list(value.indices), values=list(value.values))
        else:
            out[name] = value
    return out


def _record(record: Any) -> models.Record:
    from qdrant_client import models

    return models.Record(
        id=_client_id(record.id), payload=record.payload, vector=_client_vector(record.vector)
    )

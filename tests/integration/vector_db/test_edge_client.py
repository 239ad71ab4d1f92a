"""EdgeQdrantClient answers the qdrant-client calls the project makes, and refuses the others clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import models

from llm_engineering.infrastructure.db.qdrant_edge_client import EdgeQdrantClient

ID_A = "6a1f8f5e-0d3c-4c1b-9c8e-1d2f3a4b5c6d"
ID_B = "7b2f8f5e-0d3c-4c1b-9c8e-1d2f3a4b5c6d"


@pytest.fixture
def client(tmp_path: Path):
    edge = EdgeQdrantClient(tmp_path / "edge")
    yield edge
    edge.close()


def test_named_vectors_round_trip_as_client_models(client: EdgeQdrantClient) -> None:
    client.create_collection(
        "c",
        vectors_config={"dense": models.VectorParams(size=2, distance=models.Distance.COSINE)},
        sparse_vectors_config={"sparse": models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    sparse = models.SparseVector(indices=[3, 7], values=[1.0, 2.0])
    client.upsert(
        "c", [models.PointStruct(id=ID_A, vector={"dense": [1.0, 0.0], "sparse": sparse}, payload={"k": 1})]
    )
    (record,) = client.retrieve("c", [ID_A], with_vectors=True)
    assert isinstance(record, models.Record)
    assert record.id == ID_A
    assert record.payload == {"k": 1}
    assert record.vector["dense"] == pytest.approx([1.0, 0.0])
    assert record.vector["sparse"] == sparse
    response = client.query_points("c", query=sparse, using="sparse", limit=1)
    assert [p.id for p in response.points] == [ID_A]
    assert (
        client.count("c", count_filter=models.Filter(must=[models.HasIdCondition(has_id=[ID_B])])).count == 0
    )
    with pytest.raises(ValueError, match="already exists"):
        client.create_collection("c", vectors_config={})


def test_payload_only_collections_hide_their_placeholder_vector(client: EdgeQdrantClient) -> None:
    client.create_collection("p", vectors_config={})
    client.upsert("p", [models.PointStruct(id=ID_A, vector={}, payload={"a": "x"})])
    records, next_offset = client.scroll("p", with_vectors=True)
    assert next_offset is None
    assert [(r.id, r.payload, r.vector) for r in records] == [(ID_A, {"a": "x"}, {})]


def test_scroll_pages_with_next_offset(client: EdgeQdrantClient) -> None:
    client.create_collection("p", vectors_config={})
    client.upsert("p", [models.PointStruct(id=i, vector={}, payload={"i": i}) for i in range(1, 6)])
    first, offset = client.scroll("p", limit=2)
    assert [r.id for r in first] == [1, 2] and offset == 3
    rest, offset = client.scroll("p", limit=10, offset=offset)
    assert [r.id for r in rest] == [3, 4, 5] and offset is None


def test_unsupported_calls_say_what_is_missing(client: EdgeQdrantClient) -> None:
    client.create_collection("p", vectors_config={})
    ranged = models.Filter(must=[models.FieldCondition(key="n", range=models.Range(gte=1))])
    with pytest.raises(NotImplementedError, match="match conditions only"):
        client.count("p", count_filter=ranged)
    with pytest.raises(NotImplementedError, match="does not support"):
        client.scroll("p", order_by="n")
    with pytest.raises(NotImplementedError, match="not a Batch"):
        client.upsert("p", models.Batch(ids=[1], vectors=[[1.0]]))
    with pytest.raises(ValueError, match="not found"):
        client.count("missing")
    with pytest.raises(ValueError, match="folder name"):
        client.collection_exists("../escape")


def test_one_open_client_per_folder(client: EdgeQdrantClient) -> None:
    """qdrant-edge locks a shard's WAL: even a second client in the same process cannot open it."""
    client.create_collection("p", vectors_config={})
    second = EdgeQdrantClient(client.path)
    with pytest.raises(Exception, match="WAL"):
        second.count("p")
    client.close()
    assert second.count("p").count == 0
    second.close()

"""BM25 sparse vectors from qdrant-edge's offline BM25 model, behind the `SparseEncoder` port."""

from __future__ import annotations

import pytest

from llm_engineering.domain.features import SparseVector
from llm_engineering.infrastructure.models.sparse import Bm25Config, Bm25SparseEncoder


@pytest.fixture(scope="module")
def encoder() -> Bm25SparseEncoder:
    return Bm25SparseEncoder()


def _weights(vector: SparseVector) -> dict[int, float]:
    return dict(zip(vector.indices, vector.values, strict=True))


def test_document_weights_saturate_term_frequency(encoder: Bm25SparseEncoder) -> None:
    many, once = encoder.encode_documents(
        ["Qdrant stores vectors. Qdrant searches vectors. Qdrant!", "Qdrant stores vectors."]
    )
    assert many.indices == sorted(many.indices) and len(many.indices) == len(set(many.indices))
    assert len(many.indices) == len(many.values) and all(v > 0 for v in many.values)
    (term,) = encoder.encode_query("qdrant").indices
    assert _weights(many)[term] > _weights(once)[term]  # tf matters...
    assert _weights(many)[term] < 3 * _weights(once)[term]  # ...but saturates


def test_query_terms_match_stemmed_document_terms(encoder: Bm25SparseEncoder) -> None:
    (document,) = encoder.encode_documents(["Fine-tuning the models with running pipelines"])
    query = encoder.encode_query("fine-tune model run pipeline")
    assert set(query.values) == {1.0}
    assert set(query.indices) & set(document.indices), (
        "stemming should map model/models, run/running together"
    )
    assert encoder.encode_query("the and of") == SparseVector(indices=[], values=[])  # stopwords only


def test_deterministic_lazy_and_configurable(encoder: Bm25SparseEncoder) -> None:
    text = "hybrid search with BM25 and more BM25"
    assert encoder.encode_documents([text]) == Bm25SparseEncoder().encode_documents([text])
    assert encoder.encode_documents([""]) == [SparseVector(indices=[], values=[])]
    assert encoder.encode_documents([]) == []
    cold = Bm25SparseEncoder(Bm25Config(k=2.0))
    assert cold._model is None, "building the encoder must not load the model"
    (default,), (steeper,) = encoder.encode_documents([text]), cold.encode_documents([text])
    assert default.indices == steeper.indices and default.values != steeper.values
    with pytest.raises(ValueError, match="BM25 needs"):
        Bm25Config(b=1.5)

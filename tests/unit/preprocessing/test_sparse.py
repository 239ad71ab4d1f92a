"""BM25 sparse vectors from qdrant-edge's offline BM25 model."""

from __future__ import annotations

from llm_engineering.application.preprocessing.sparse import sparse_document, sparse_query, sparse_vector


def test_document_weights_saturate_term_frequency():
    indices, values = sparse_document("Qdrant stores vectors. Qdrant searches vectors. Qdrant!")
    assert indices == sorted(indices) and len(indices) == len(set(indices))
    assert len(indices) == len(values) and all(v > 0 for v in values)
    once_indices, once_values = sparse_document("Qdrant stores vectors.")
    weights = dict(zip(indices, values, strict=True))
    qdrant = set(sparse_query("qdrant")[0])
    (term,) = qdrant
    assert weights[term] > dict(zip(once_indices, once_values, strict=True))[term]  # tf matters...
    assert weights[term] < 3 * dict(zip(once_indices, once_values, strict=True))[term]  # ...but saturates


def test_query_terms_match_stemmed_document_terms():
    doc_indices, _ = sparse_document("Fine-tuning the models with running pipelines")
    query_indices, query_values = sparse_query("fine-tune model run pipeline")
    assert set(query_values) == {1.0}
    assert set(query_indices) & set(doc_indices), "stemming should map model/models, run/running together"
    assert sparse_query("the and of") == ([], [])  # stopwords only


def test_deterministic_and_domain_vector():
    assert sparse_document("hybrid search with BM25") == sparse_document("hybrid search with BM25")
    vector = sparse_vector("hybrid search with BM25")
    assert (vector.indices, vector.values) == sparse_document("hybrid search with BM25")
    assert sparse_document("") == ([], [])

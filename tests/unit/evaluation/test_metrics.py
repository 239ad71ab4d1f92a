"""The evaluation's numbers and rules, on hand-made inputs whose answers are known."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from llm_engineering.application.evaluation import metrics
from llm_engineering.application.evaluation.evaluate import plan_models, select
from llm_engineering.application.evaluation.promotion import decide_promotion
from llm_engineering.domain.training import (
    EvaluationConfig,
    EvaluationError,
    EvaluationReport,
    ModelCard,
    ModelEvaluation,
    ModelVersion,
)


def test_perplexity_is_token_weighted() -> None:
    assert metrics.perplexity([(2.0, 1), (4.0, 3)]) == pytest.approx(math.exp(6.0 / 4))
    with pytest.raises(ValueError, match="no answer tokens"):
        metrics.perplexity([(0.0, 0)])


def test_style_similarity_is_the_mean_cosine_to_each_reference() -> None:
    refs = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert metrics.style_similarity(refs * 3, refs) == pytest.approx(1.0)
    assert metrics.style_similarity(np.array([[1.0, 0.0], [1.0, 0.0]]), refs) == pytest.approx(0.5)


def test_attribution_picks_the_nearest_author_centroid() -> None:
    rng = np.random.default_rng(0)
    ada, bob = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    train = np.vstack(
        [ada + rng.normal(0, 0.1, 3) for _ in range(10)] + [bob + rng.normal(0, 0.1, 3) for _ in range(10)]
    )
    centroids = metrics.author_centroids(train, ["Ada"] * 10 + ["Bob"] * 10)
    generated = np.vstack([ada, bob, ada * 0.2 + bob])
    assert metrics.attribution_accuracy(generated, ["Ada", "Bob", "Ada"], centroids) == pytest.approx(2 / 3)
    assert metrics.attribution_accuracy(generated, ["Ada"] * 3, {"Ada": centroids["Ada"]}) is None


def test_rouge_l() -> None:
    assert metrics.rouge_l(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(1.0)
    assert metrics.rouge_l(["completely different words"], ["the cat sat on the mat"]) == 0.0


@dataclass
class Sample:
    instruction: str
    answer: str
    author_full_name: str


def test_select_takes_authors_in_turn_and_is_seeded() -> None:
    samples = [Sample(f"q{i}", f"a{i}", "Ada") for i in range(10)] + [Sample("q", "b", "Bob")]
    chosen = select(samples, 4, seed=1)
    assert len(chosen) == 4 and sum(s.author_full_name == "Bob" for s in chosen) == 1
    assert chosen == select(samples, 4, seed=1)
    assert select(samples, 0, seed=1) == samples


def _version(tmp_path: Path, name: str, **card: object) -> ModelVersion:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text("{}")
    fields = {"base_model": "smollm2", "stage_of_training": ["sft", "dpo"], **card}
    return ModelVersion(version=name, weights_dir=folder, card=ModelCard(**fields))  # type: ignore[arg-type]


def test_plan_models_reads_the_card_and_names_what_is_missing(tmp_path: Path) -> None:
    base = _version(tmp_path, "base-folder").weights_dir
    sft = _version(tmp_path, "sft-folder").weights_dir
    version = _version(tmp_path, "2", related_weights={"base": str(base), "sft": str(sft)})
    production = _version(tmp_path, "1")
    plan = plan_models(version, production, EvaluationConfig())
    assert plan == {
        "base": base,
        "sft": sft,
        "dpo": version.weights_dir,
        "production": production.weights_dir,
    }
    assert "production" not in plan_models(version, version, EvaluationConfig())

    only_sft = _version(tmp_path, "3", stage_of_training=["sft"])
    with pytest.raises(EvaluationError, match=r"no dpo model for twin version 3 .*model_paths\.dpo"):
        plan_models(only_sft, None, EvaluationConfig(models=["sft", "dpo"]))
    with pytest.raises(EvaluationError, match="does not exist"):
        plan_models(version, None, EvaluationConfig(model_paths={"base": str(tmp_path / "nope")}))


def _report(**models: tuple[float, float | None]) -> EvaluationReport:
    return EvaluationReport(
        models={
            name: ModelEvaluation(name=name, model_path=name, perplexity=ppl, style_similarity=style)
            for name, (ppl, style) in models.items()
        }
    )


def test_promotion_needs_lower_perplexity_and_no_worse_style(tmp_path: Path) -> None:
    candidate, production = _version(tmp_path, "2"), _version(tmp_path, "1")
    better = _report(base=(30.0, 0.4), dpo=(10.0, 0.6), production=(12.0, 0.55))
    decision = decide_promotion(better, candidate="dpo", version=candidate, production=production)
    assert (
        decision.promoted
        and "production (version 1)" in decision.reason
        and decision.previous_production == "1"
    )

    worse_style = _report(base=(30.0, 0.4), dpo=(10.0, 0.5), production=(12.0, 0.55))
    decision = decide_promotion(worse_style, candidate="dpo", version=candidate, production=production)
    assert not decision.promoted and "style similarity 0.500 vs 0.550 is worse" in decision.reason
    assert decide_promotion(
        worse_style, candidate="dpo", version=candidate, production=production, tolerance=0.1
    ).promoted

    worse_ppl = _report(base=(30.0, 0.4), dpo=(13.0, 0.9), production=(12.0, 0.55))
    decision = decide_promotion(worse_ppl, candidate="dpo", version=candidate, production=production)
    assert not decision.promoted and "must be lower" in decision.reason

    first = decide_promotion(
        _report(base=(30.0, None), dpo=(10.0, None)), candidate="dpo", version=candidate, production=None
    )
    assert first.promoted and "the base model" in first.reason and "perplexity alone" in first.reason

    same = decide_promotion(better, candidate="dpo", version=production, production=production)
    assert not same.promoted and "already in production" in same.reason

"""Evaluation on real components: a tiny Llama built in the test, the packaged MiniLM, the real
registry folder and Comet's offline archive. Only the judge (a remote API) is absent, so skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_engineering.application.evaluation import metrics
from llm_engineering.application.evaluation.evaluate import run_evaluation
from llm_engineering.domain.training import EvaluationConfig, ModelCard
from llm_engineering.infrastructure.evaluation.transformers_lm import LMConfig, TransformersLM
from llm_engineering.infrastructure.registry import LocalModelRegistry
from tests.integration.evaluation.conftest import Sample, split

# building and training the tiny model takes seconds on a quiet machine, minutes on a loaded one
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def embedder():
    from llm_engineering.infrastructure.models.embedder import EmbeddingConfig, SentenceEmbedder

    model = SentenceEmbedder(EmbeddingConfig())
    model.warm_up()
    return model


def _ada_test() -> list[Sample]:
    return [s for s in split()[1] if s.author_full_name == "Ada Sample"]


def test_perplexity_is_lower_for_the_model_trained_on_the_persons_text(tiny_models: dict[str, Path]) -> None:
    pairs = [(s.instruction, s.answer) for s in _ada_test()]
    scores = {}
    for label in ("base", "twin"):
        model = TransformersLM(label, tiny_models[label], LMConfig(batch_size=3))
        losses = model.answer_nll(pairs)
        assert [n > 0 for _, n in losses] == [True] * len(pairs)
        scores[label] = metrics.perplexity(losses)
        answers = model.generate([s.instruction for s in _ada_test()], max_new_tokens=8)
        assert len(answers) == len(pairs) and all(isinstance(a, str) for a in answers)
        model.close()
    assert scores["twin"] < 0.5 * scores["base"], scores


def test_answer_tokens_only_are_scored(tiny_models: dict[str, Path]) -> None:
    model = TransformersLM("base", tiny_models["base"])
    model.warm_up()
    (_, n_short), (_, n_long) = model.answer_nll(
        [
            ("Write a short post about tokenizers.", "Honestly."),
            ("Write a much longer request " * 5, "Honestly."),
        ]
    )
    assert n_short == n_long, "the prompt's length must not change how many tokens are scored"
    ids, start = model._encode_pair("q", "Honestly.")
    assert model._tokenizer.decode(ids[start:]).startswith("Honestly.")


def test_attribution_separates_two_authors_with_minilm(embedder) -> None:
    train, test = split()
    centroids = metrics.author_centroids(
        embedder.embed([s.answer for s in train]), [s.author_full_name for s in train]
    )
    held_out = embedder.embed([s.answer for s in test])
    assert metrics.attribution_accuracy(held_out, [s.author_full_name for s in test], centroids) == 1.0
    swapped = [{"Ada Sample": "Bob Formal", "Bob Formal": "Ada Sample"}[s.author_full_name] for s in test]
    assert metrics.attribution_accuracy(held_out, swapped, centroids) == 0.0


def _register(registry: LocalModelRegistry, weights: Path, base: Path, sft: Path) -> str:
    card = ModelCard(
        base_model="tiny",
        stage_of_training=["sft", "dpo"],
        related_weights={"base": str(base), "sft": str(sft)},
        authors=["Ada Sample", "Bob Formal"],
    )
    return registry.register(weights, card).version


def test_run_evaluation_records_metrics_tracks_and_promotes_only_when_better(
    tiny_models: dict[str, Path],
    embedder,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    from llm_engineering.infrastructure.tracking.comet import build_tracker, list_offline_runs
    from llm_engineering.settings import get_settings

    train, test = split()
    registry = LocalModelRegistry(tmp_path / "twin")
    good = _register(registry, tiny_models["twin"], base=tiny_models["base"], sft=tiny_models["twin"])
    config = EvaluationConfig(max_generated=4, max_new_tokens=12, batch_size=4)

    def load(label: str, path: Path) -> TransformersLM:
        return TransformersLM(label, path, LMConfig(batch_size=4))

    def evaluate(cfg: EvaluationConfig, *, tracked: bool = False):
        return run_evaluation(
            registry,
            load,
            test,
            train,
            embedder=embedder,
            judge=None,
            judge_skipped_reason="no judge configured",
            tracker=build_tracker(get_settings()) if tracked else None,
            config=cfg,
        )

    report = evaluate(config.model_copy(update={"promote": False}), tracked=True)
    assert report.promotion is not None and not report.promotion.promoted
    assert registry.production() is None, "`promote: false` decides but never promotes"
    public = report.to_public_json()
    assert set(public["models"]) == {"base", "sft", "dpo"}
    for scores in public["models"].values():
        assert {"perplexity", "style_similarity", "attribution_accuracy", "rouge_l", "judge"} <= set(scores)
        assert scores["judge"] is None and scores["generated_samples"] == 4
        assert -1.0 <= scores["style_similarity"] <= 1.0 and 0.0 <= scores["attribution_accuracy"] <= 1.0
    assert public["judge_skipped_reason"] == "no judge configured"
    assert public["models"]["dpo"]["perplexity"] < public["models"]["base"]["perplexity"]
    assert registry.get(good).card.metrics["eval_perplexity"] == pytest.approx(
        report.models["dpo"].perplexity
    )
    json.dumps(public)

    # No production yet: the baseline is the base model. Perplexity alone decides when no answers
    # are generated, so this promotion does not hang on a tiny model's greedy answers.
    report = evaluate(config.model_copy(update={"max_generated": 0}))
    assert report.promotion is not None and report.promotion.promoted, report.promotion
    assert registry.production().version == good  # type: ignore[union-attr]

    # An untrained version does not beat the production twin, scored on the same split and run.
    worse = _register(registry, tiny_models["base"], base=tiny_models["base"], sft=tiny_models["base"])
    report = evaluate(config.model_copy(update={"max_generated": 0, "models": ["base", "dpo"]}))
    assert set(report.models) == {"base", "dpo", "production"}
    assert report.version == worse and not report.promotion.promoted  # type: ignore[union-attr]
    assert "does not beat production (version 1)" in report.promotion.reason  # type: ignore[union-attr]
    assert registry.production().version == good  # type: ignore[union-attr]

    (run,) = list_offline_runs(data_dir / "comet")
    assert run.name == f"evaluation-twin-{good}"
    assert run.last("dpo/perplexity") == pytest.approx(public["models"]["dpo"]["perplexity"], rel=1e-4), run

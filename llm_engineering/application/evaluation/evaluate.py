"""The evaluation use case: score base, SFT and DPO on the test split, then decide promotion.

Every model is scored on the same held-out samples: perplexity of the person's own answers given
the instruction (answer tokens only, through the model's chat template), then greedy answers to a
capped, author-balanced subset of test instructions, compared with the person's answers (style
similarity and authorship attribution in the embedder's space, ROUGE-L) and, when a judge is
configured, rated by it. Models are loaded one at a time and freed after.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from loguru import logger

from llm_engineering.application.evaluation import metrics
from llm_engineering.application.evaluation.judge import judge_answers
from llm_engineering.application.evaluation.promotion import decide_promotion
from llm_engineering.application.ports import (
    Embedder,
    EvaluatedLM,
    ExperimentTracker,
    LLMClient,
    ModelRegistry,
)
from llm_engineering.domain.training import (
    EvaluationConfig,
    EvaluationError,
    EvaluationReport,
    ModelEvaluation,
    ModelVersion,
)


class AnswerSample(Protocol):
    """What evaluation reads of an instruction sample (the datasets issue's `InstructSample`)."""

    instruction: str
    answer: str
    author_full_name: str


S = TypeVar("S", bound=AnswerSample)
#: builds the model to evaluate from its label and folder (loading happens in `warm_up`)
LMFactory = Callable[[str, Path], EvaluatedLM]


def plan_models(
    version: ModelVersion, production: ModelVersion | None, config: EvaluationConfig
) -> dict[str, Path]:
    """Label -> weights folder: the version's own weights under its last training stage, the
    others from its card (`related_weights`, `base_model`) or the config's `model_paths`."""
    known: dict[str, str] = {}
    if Path(version.card.base_model).is_dir():
        known["base"] = version.card.base_model
    known.update(version.card.related_weights)
    known[(version.card.stage_of_training or ["dpo"])[-1]] = str(version.weights_dir)
    known.update(config.model_paths)
    plan: dict[str, Path] = {}
    for label in config.models:
        if label not in known:
            raise EvaluationError(
                f"no {label} model for twin version {version.version} (trained: "
                f"{', '.join(version.card.stage_of_training) or 'nothing'}): set model_paths.{label} "
                "in configs/evaluating.yaml or drop it from `models`"
            )
        path = Path(known[label])
        if not (path / "config.json").is_file():
            raise EvaluationError(
                f"the {label} model folder {path} does not exist (or has no config.json): "
                f"set model_paths.{label} in configs/evaluating.yaml to a transformers folder"
            )
        plan[label] = path
    if config.compare_with_production and production is not None and production.version != version.version:
        plan["production"] = production.weights_dir
    return plan


def select(samples: Sequence[S], limit: int, seed: int) -> list[S]:
    """Up to `limit` samples (0 = all), taken in turn from each author, seeded."""
    if limit == 0 or limit >= len(samples):
        return list(samples)
    by_author: dict[str, list[S]] = defaultdict(list)
    for sample in samples:
        by_author[sample.author_full_name].append(sample)
    rng = random.Random(seed)
    queues = [rng.sample(group, len(group)) for _, group in sorted(by_author.items())]
    chosen: list[S] = []
    while len(chosen) < limit:
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop())
    return chosen


def evaluate_models(
    models: Mapping[str, Path],
    load: LMFactory,
    test: Sequence[AnswerSample],
    train: Sequence[AnswerSample],
    *,
    embedder: Embedder,
    judge: LLMClient | None,
    judge_skipped_reason: str | None,
    config: EvaluationConfig,
    version: str | None = None,
) -> EvaluationReport:
    if not test:
        raise EvaluationError(
            "the test split is empty: generate datasets with a test share (run-generate-instruct-datasets)"
        )
    scored = select(test, config.max_perplexity_samples, config.seed)
    answered = select(test, config.max_generated, config.seed + 1)
    authors = sorted({s.author_full_name for s in test} | {s.author_full_name for s in train})
    references = embedder.embed([s.answer for s in answered]) if answered else None
    centroids, attribution_reason = _centroids(train, embedder, config)
    if judge is None and judge_skipped_reason is None:
        judge_skipped_reason = "judging is off in the config (judge: false)"
    results: dict[str, ModelEvaluation] = {}
    for label, path in models.items():
        started = time.perf_counter()
        logger.info("Evaluating {} ({}) on {} test answers", label, path, len(scored))
        model = load(label, path)
        try:
            model.warm_up()
            losses = model.answer_nll([(s.instruction, s.answer) for s in scored])
            generated = (
                model.generate([s.instruction for s in answered], config.max_new_tokens) if answered else []
            )
        finally:
            model.close()
        evaluation = ModelEvaluation(
            name=label,
            model_path=str(path),
            perplexity=metrics.perplexity(losses),
            perplexity_samples=len(scored),
            generated_samples=len(generated),
        )
        if answered:
            vectors = embedder.embed(generated)
            evaluation.style_similarity = metrics.style_similarity(vectors, references)  # type: ignore[arg-type]
            evaluation.rouge_l = metrics.rouge_l(generated, [s.answer for s in answered])
            if centroids is not None:
                evaluation.attribution_accuracy = metrics.attribution_accuracy(
                    vectors, [s.author_full_name for s in answered], centroids
                )
            if judge is not None and config.max_judged:
                subset = answered[: config.max_judged]
                evaluation.judge = judge_answers(
                    judge, [s.instruction for s in subset], generated[: len(subset)]
                )
        evaluation.seconds = round(time.perf_counter() - started, 2)
        logger.info("{}: {}", label, evaluation.metrics())
        results[label] = evaluation
    if not answered:
        attribution_reason = attribution_reason or "no answers generated (max_generated: 0)"
    return EvaluationReport(
        models=results,
        version=version,
        test_samples=len(test),
        authors=authors,
        judge_skipped_reason=judge_skipped_reason if judge is None else None,
        attribution_skipped_reason=attribution_reason,
    )


def _centroids(
    train: Sequence[AnswerSample], embedder: Embedder, config: EvaluationConfig
) -> tuple[dict[str, Any] | None, str | None]:
    by_author: dict[str, list[str]] = defaultdict(list)
    for sample in train:
        by_author[sample.author_full_name].append(sample.answer)
    if len(by_author) < 2:
        return None, f"attribution needs at least two authors in the training split (found {len(by_author)})"
    rng = random.Random(config.seed)
    texts: list[str] = []
    labels: list[str] = []
    for author, answers in sorted(by_author.items()):
        kept = rng.sample(answers, min(len(answers), config.attribution_train_cap))
        texts += kept
        labels += [author] * len(kept)
    return metrics.author_centroids(embedder.embed(texts), labels), None


def run_evaluation(
    registry: ModelRegistry,
    load: LMFactory,
    test: Sequence[AnswerSample],
    train: Sequence[AnswerSample],
    *,
    embedder: Embedder,
    judge: LLMClient | None,
    judge_skipped_reason: str | None,
    tracker: ExperimentTracker | None,
    config: EvaluationConfig,
) -> EvaluationReport:
    """Evaluate a registered version against its base (and the production twin), record the
    metrics on the version, promote it when it is better, and track it all."""
    version = _version_to_evaluate(registry, config.version)
    production = registry.production()
    plan = plan_models(version, production, config)
    report = evaluate_models(
        plan,
        load,
        test,
        train,
        embedder=embedder,
        judge=judge,
        judge_skipped_reason=judge_skipped_reason,
        config=config,
        version=version.version,
    )
    candidate = (version.card.stage_of_training or ["dpo"])[-1]
    if candidate in report.models:
        registry.update_metrics(
            version.version, {f"eval_{k}": v for k, v in report.models[candidate].metrics().items()}
        )
    decision = decide_promotion(
        report, candidate=candidate, version=version, production=production, tolerance=config.style_tolerance
    )
    if decision.promoted and config.promote:
        registry.promote(version.version)
    elif decision.promoted:
        decision = decision.model_copy(
            update={
                "promoted": False,
                "reason": f"{decision.reason}; not promoted: `promote: false` in the config",
            }
        )
    report.promotion = decision
    logger.info("Promotion of twin version {}: {}", version.version, decision.reason)
    if tracker is not None:
        _track(tracker, report)
    return report


def _version_to_evaluate(registry: ModelRegistry, name: str | None) -> ModelVersion:
    if name is not None:
        return registry.get(name)
    versions = registry.list_versions()
    if not versions:
        raise EvaluationError("no twin version is registered: run run-training first")
    return versions[-1]


def _track(tracker: ExperimentTracker, report: EvaluationReport) -> None:
    params = {"version": report.version, "test_samples": report.test_samples, "authors": report.authors}
    with tracker.start_run(
        f"evaluation-twin-{report.version}", params=params, tags=["llm-twin", "evaluation"]
    ) as run:
        run.log_metrics(flat_metrics(report))
        run.log_text("evaluation.json", report.model_dump_json(indent=2))


def flat_metrics(report: EvaluationReport) -> dict[str, float]:
    """`{"base/perplexity": ..., "dpo/rouge_l": ...}` for trackers and ZenML metadata."""
    return {
        f"{label}/{key}": value
        for label, model in report.models.items()
        for key, value in model.metrics().items()
    }

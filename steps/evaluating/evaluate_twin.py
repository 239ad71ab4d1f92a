from pathlib import Path
from typing import Annotated, Any

from zenml import log_metadata, step

from llm_engineering import bootstrap
from llm_engineering.application.evaluation.evaluate import flat_metrics, run_evaluation
from llm_engineering.domain.training import EvaluationConfig, EvaluationReport
from llm_engineering.infrastructure.evaluation.datasets import instruct_datasets_for
from llm_engineering.infrastructure.evaluation.judge_client import build_judge
from llm_engineering.infrastructure.evaluation.transformers_lm import LMConfig, TransformersLM, pick_device
from llm_engineering.infrastructure.registry import build_registry
from llm_engineering.infrastructure.tracking.comet import build_tracker
from llm_engineering.settings import get_settings


@step
def evaluate_twin(evaluation: dict[str, Any]) -> Annotated[EvaluationReport, "evaluation_report"]:
    """Base, SFT and DPO on the test split; the version's metrics recorded; promoted when better."""
    settings = get_settings()
    config = EvaluationConfig.model_validate(evaluation)
    registry = build_registry(settings)
    datasets = instruct_datasets_for(registry, config.version)
    judge, skipped = build_judge(settings, enabled=config.judge)
    lm_config = LMConfig(
        batch_size=config.batch_size, max_length=config.max_length, device=pick_device(config.device)
    )

    def load(label: str, path: Path) -> TransformersLM:
        return TransformersLM(label, path, lm_config)

    report = run_evaluation(
        registry,
        load,
        datasets.test,
        datasets.train,
        embedder=bootstrap.build_embedder(settings),
        judge=judge,
        judge_skipped_reason=skipped,
        tracker=build_tracker(settings),
        config=config,
    )
    log_metadata(
        metadata={
            "metrics": flat_metrics(report),
            "version": report.version or "",
            "promoted": bool(report.promotion and report.promotion.promoted),
            "promotion_reason": report.promotion.reason if report.promotion else "",
            "judge_skipped_reason": report.judge_skipped_reason or "",
            "test_samples": report.test_samples,
        }
    )
    return report

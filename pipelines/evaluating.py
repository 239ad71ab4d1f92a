from typing import Any

from zenml import pipeline

from steps.evaluating.evaluate_twin import evaluate_twin


@pipeline(enable_cache=False)
def evaluating(evaluation: dict[str, Any] | None = None) -> None:
    """Score the latest twin version (and its base and SFT models) on the held-out test split."""
    evaluate_twin(evaluation=evaluation or {})

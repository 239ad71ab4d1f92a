"""What a trained twin is and how it was made: model cards, registry versions, evaluations (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.exceptions import LLMTwinException

#: The ZenML Model (Model Control Plane) every trained twin is a version of.
TWIN_MODEL_NAME = "twin"
#: The stage the inference service serves.
PRODUCTION_STAGE = "production"


class ModelVersionNotFound(LLMTwinException):
    """A registry version asked for by name does not exist."""


class RegistryError(LLMTwinException):
    """The model registry cannot do what was asked (bad weights folder, bad stage, clash)."""


class EvaluationError(LLMTwinException):
    """An evaluation cannot run (no test data, a model folder missing, nothing to compare)."""


def _now() -> datetime:
    return datetime.now(UTC)


class ModelCard(BaseModel):
    """How a version was made: base model, training stages, data lineage, settings, results."""

    base_model: str
    stage_of_training: list[str] = Field(default_factory=list)
    #: dataset name -> ZenML artifact version id or content hash
    datasets: dict[str, str] = Field(default_factory=dict)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    #: the git commit of the code that trained it ("unknown" outside a checkout)
    code_version: str = "unknown"
    created_at: datetime = Field(default_factory=_now)
    #: author full names the twin was trained on
    authors: list[str] = Field(default_factory=list)
    #: the experiment tracker's run key, when one was tracked
    experiment_key: str | None = None
    #: other weight folders of the same run (e.g. {"sft": "/.../sft"}) for evaluation
    related_weights: dict[str, str] = Field(default_factory=dict)


class ModelVersion(BaseModel):
    """One registered version of the twin: a transformers folder plus its card."""

    model_config = ConfigDict(frozen=True)

    version: str
    stage: str | None = None
    weights_dir: Path
    card: ModelCard


# --- evaluation ---------------------------------------------------------------------------------


class JudgeScores(BaseModel):
    """LLM-as-judge means over the evaluated answers (the reference's criteria, 1 to 3)."""

    accuracy: float
    style: float
    judged: int
    model: str


class ModelEvaluation(BaseModel):
    """One model's scores on the test split; a metric is None when it could not be computed."""

    name: str
    model_path: str
    perplexity: float | None = None
    style_similarity: float | None = None
    attribution_accuracy: float | None = None
    rouge_l: float | None = None
    judge: JudgeScores | None = None
    #: how many test answers perplexity was measured on / answers generated
    perplexity_samples: int = 0
    generated_samples: int = 0
    seconds: float = 0.0

    def metrics(self) -> dict[str, float]:
        """Flat numeric metrics for trackers and model cards (None dropped)."""
        values: dict[str, float | None] = {
            "perplexity": self.perplexity,
            "style_similarity": self.style_similarity,
            "attribution_accuracy": self.attribution_accuracy,
            "rouge_l": self.rouge_l,
        }
        if self.judge is not None:
            values["judge_accuracy"] = self.judge.accuracy
            values["judge_style"] = self.judge.style
        return {key: float(value) for key, value in values.items() if value is not None}


class PromotionDecision(BaseModel):
    version: str | None
    promoted: bool
    reason: str
    previous_production: str | None = None


class EvaluationReport(BaseModel):
    """The whole evaluation: per-model scores, what was skipped and why, the promotion decision."""

    models: dict[str, ModelEvaluation]
    version: str | None = None
    test_samples: int = 0
    authors: list[str] = Field(default_factory=list)
    judge_skipped_reason: str | None = None
    attribution_skipped_reason: str | None = None
    promotion: PromotionDecision | None = None
    created_at: datetime = Field(default_factory=_now)

    def to_public_json(self) -> dict[str, Any]:
        """The `evaluate --json` shape: `{"models": {"base": {...}, ...}, ...}`."""
        data = self.model_dump(mode="json")
        for model in data["models"].values():
            model.pop("name", None)
        return data

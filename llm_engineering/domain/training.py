"""What a trained twin is and how it was made: model cards, registry versions, evaluations (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class EvaluationConfig(BaseModel):
    """What `run-evaluation` measures and how much of it (CPU time scales with the caps)."""

    model_config = ConfigDict(extra="forbid")

    #: the registry version to evaluate; None means the latest registered one
    version: str | None = None
    #: which models to evaluate: any of base, sft, dpo (missing folders are an error)
    models: list[str] = Field(default_factory=lambda: ["base", "sft", "dpo"], min_length=1)
    #: explicit folders per model label, over what the version's card says
    model_paths: dict[str, str] = Field(default_factory=dict)
    #: test answers scored for perplexity (0 = every test answer)
    max_perplexity_samples: int = Field(64, ge=0)
    #: test instructions answered by each model (0 = no generation: perplexity only)
    max_generated: int = Field(16, ge=0)
    max_new_tokens: int = Field(128, ge=1, le=4096)
    batch_size: int = Field(8, ge=1)
    #: tokens of prompt + answer scored for perplexity (longer answers are cut)
    max_length: int = Field(512, ge=32)
    #: "auto": CUDA when present, else the CPU (fp32: bf16 slows generation on CPU)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    #: training answers per author whose embeddings make the author's centroid
    attribution_train_cap: int = Field(200, ge=1)
    #: ask the configured judge (JUDGE_MODEL); skipped, with the reason, when none is
    judge: bool = True
    max_judged: int = Field(16, ge=0)
    #: evaluate the current production version on the same test split, to decide promotion
    compare_with_production: bool = True
    promote: bool = True
    #: promotion allows the style similarity to drop by at most this much
    style_tolerance: float = Field(0.0, ge=0.0, le=1.0)
    seed: int = 42

    @field_validator("models")
    @classmethod
    def _known_models(cls, models: list[str]) -> list[str]:
        unknown = sorted(set(models) - set(EVALUATED_MODELS))
        if unknown:
            raise ValueError(f"has unknown models {unknown}; use any of {list(EVALUATED_MODELS)}")
        return list(dict.fromkeys(models))


#: the models an evaluation compares (plus "production" when it is another version)
EVALUATED_MODELS = ("base", "sft", "dpo")

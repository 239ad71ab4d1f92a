"""Schemas of the per-run YAML configs in `configs/`; validated before any pipeline starts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llm_engineering.domain.crawl import credentials_in
from llm_engineering.domain.datasets import DatasetGenerationConfig, DatasetKind
from llm_engineering.domain.training import EvaluationConfig
from llm_engineering.domain.training_config import TrainingConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EtlParameters(_Strict):
    user_full_name: str = Field(min_length=1)
    links: list[str] = Field(default_factory=list)
    exports: list[str] = Field(default_factory=list)
    crawler_options: dict[str, dict] = Field(default_factory=dict)
    domain_map: dict[str, str] = Field(default_factory=dict)

    @field_validator("user_full_name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("links", "exports")
    @classmethod
    def _no_credentials(cls, links: list[str]) -> list[str]:
        # ZenML keeps the config as the run's record: a token in a link would be stored there.
        for link in links:
            if credentials_in(link):
                raise ValueError(
                    "must not carry credentials (user:token@ in a link would be kept in ZenML's "
                    "run records): use an SSH link (git@host:owner/repo.git) with your SSH key, or "
                    "a local clone's path"
                )
        return links

    @model_validator(mode="after")
    def _something_to_crawl(self) -> EtlParameters:
        if not self.links and not self.exports:
            raise ValueError("has no links and no exports: list at least one under `links:` or `exports:`")
        return self


class EtlRunConfig(_Strict):
    """`configs/digital_data_etl_*.yaml`: one per person."""

    parameters: EtlParameters
    settings: dict | None = None
    enable_cache: bool | None = None
    run_name: str | None = None


class FeatureParameters(_Strict):
    author_full_names: list[str] = Field(default_factory=list)
    full: bool = False


class FeatureRunConfig(_Strict):
    """`configs/feature_engineering*.yaml`."""

    parameters: FeatureParameters = Field(default_factory=FeatureParameters)
    settings: dict | None = None
    enable_cache: bool | None = None
    run_name: str | None = None


class RetrievalEvalParameters(_Strict):
    eval_set: str
    modes: list[str] = Field(default_factory=lambda: ["dense", "hybrid"])
    ks: list[int] = Field(default_factory=lambda: [1, 3, 5, 10])

    @field_validator("modes")
    @classmethod
    def _known_modes(cls, modes: list[str]) -> list[str]:
        unknown = set(modes) - {"dense", "hybrid"}
        if unknown:
            raise ValueError(f"has unknown modes {sorted(unknown)}; use dense and/or hybrid")
        return modes


class RetrievalEvalRunConfig(_Strict):
    parameters: RetrievalEvalParameters
    settings: dict | None = None
    enable_cache: bool | None = None
    run_name: str | None = None


# --- training (issue 9) -------------------------------------------------------------------------


class TrainingParameters(_Strict):
    #: hyper-parameters of both stages (see `llm_engineering.domain.training_config`)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    #: ZenML artifact versions of the datasets; empty means the latest
    instruct_datasets_version: str | None = None
    preference_datasets_version: str | None = None


class TrainingRunConfig(_Strict):
    """`configs/training.yaml`."""

    parameters: TrainingParameters = Field(default_factory=TrainingParameters)
    settings: dict | None = None
    enable_cache: bool | None = None
    run_name: str | None = None
    model: dict | None = None


# --- evaluation (issue 9) -----------------------------------------------------------------------


class EvaluatingParameters(_Strict):
    #: what is evaluated and how much (see `llm_engineering.domain.training.EvaluationConfig`)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)


class EvaluatingRunConfig(_Strict):
    """`configs/evaluating.yaml`."""

    parameters: EvaluatingParameters = Field(default_factory=EvaluatingParameters)
    settings: dict | None = None
    enable_cache: bool | None = None
    run_name: str | None = None


# --- datasets (issue 9, item 1) -----------------------------------------------------------------


class GenerateDatasetsParameters(_Strict):
    #: "instruction" or "preference" (the same pipeline, as in the reference)
    dataset_type: DatasetKind = DatasetKind.INSTRUCTION
    #: whose documents; empty means every author in the feature store
    author_full_names: list[str] = Field(default_factory=list)
    generation: DatasetGenerationConfig = Field(default_factory=DatasetGenerationConfig)


class GenerateDatasetsRunConfig(_Strict):
    """`configs/generate_instruct_datasets.yaml`, `configs/generate_preference_datasets.yaml`."""

    parameters: GenerateDatasetsParameters = Field(default_factory=GenerateDatasetsParameters)
    settings: dict | None = None
    enable_cache: bool | None = None
    run_name: str | None = None


# --- RAG evaluation (inference issue, item 6) ---------------------------------------------------


class RagEvalParameters(_Strict):
    #: JSONL of {query, relevant_links}; relative paths are from the repo root
    eval_set: str = "eval/handbook_retrieval.jsonl"
    #: answer only the first n questions (None: all); each is a full generation
    limit: int | None = Field(10, ge=1)
    max_tokens: int = Field(96, ge=1, le=4096)
    #: the RAG and service config (None: INFERENCE_CONFIG, i.e. configs/inference.yaml)
    inference_config: str | None = None


class RagEvalRunConfig(_Strict):
    """`configs/rag_evaluation.yaml`."""

    parameters: RagEvalParameters = Field(default_factory=RagEvalParameters)
    settings: dict | None = None
    enable_cache: bool | None = None
    run_name: str | None = None

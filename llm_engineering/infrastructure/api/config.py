"""`configs/inference.yaml`: the RAG chain (`rag:`) and the service's limits (`service:`), validated."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llm_engineering.application.rag.config import RAGConfig
from llm_engineering.domain.exceptions import ConfigError


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the model name API clients see (and send back as `model`)
    twin_name: str = Field("llm-twin", min_length=1)
    #: generations running at once (the local model batches them); the rest wait in the queue
    max_concurrent: int = Field(8, ge=1, le=256)
    #: requests waiting for a slot; one more gets 503
    max_queue: int = Field(32, ge=0, le=10_000)
    #: request bodies larger than this get 413
    max_body_bytes: int = Field(1_000_000, ge=1024)
    #: the largest `max_tokens` a request may ask for
    max_tokens_limit: int = Field(1024, ge=1)
    #: `max_tokens` when a request does not say
    default_max_tokens: int = Field(256, ge=1)
    #: seconds between two checks for a newer feature release (0: before every request)
    refresh_interval_s: float = Field(2.0, ge=0)

    @model_validator(mode="after")
    def _default_within_limit(self) -> ServiceConfig:
        if self.default_max_tokens > self.max_tokens_limit:
            raise ValueError("default_max_tokens must not exceed max_tokens_limit")
        return self


class InferenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rag: RAGConfig = Field(default_factory=RAGConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)


def load_inference_config(path: Path) -> InferenceConfig:
    """The YAML at `path` (relative paths also from the repo root), validated; ConfigError names the entry."""
    import yaml

    from llm_engineering.settings import REPO_ROOT

    if not path.exists() and (REPO_ROOT / path).exists():
        path = REPO_ROOT / path
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"inference config {path} cannot be read ({exc.strerror}): pass an existing YAML"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"inference config {path} is not valid YAML: fix its syntax") from exc
    try:
        return InferenceConfig.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(
            f"inference config {path}: `{field}` {first['msg'].lower()}: fix that entry"
        ) from exc

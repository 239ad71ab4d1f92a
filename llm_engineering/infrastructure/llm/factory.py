"""Pick the LLM adapter by `LLM_BACKEND`: local (default), openai (compatible) or sagemaker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_engineering.domain.exceptions import ConfigError

if TYPE_CHECKING:
    from llm_engineering.application.ports import LLMClient, ModelRegistry
    from llm_engineering.settings import Settings


def build_llm(settings: Settings, registry: ModelRegistry | None = None) -> LLMClient:
    """The configured `LLMClient`, not yet warmed up (nothing is loaded or contacted here)."""
    backend = settings.LLM_BACKEND
    try:
        if backend == "local":
            from llm_engineering.infrastructure.llm.local import LocalLLM, LocalLLMConfig

            return LocalLLM(LocalLLMConfig.from_settings(settings), registry=registry)
        if backend == "openai":
            from llm_engineering.infrastructure.llm.openai_compat import OpenAICompatConfig, OpenAICompatLLM

            return OpenAICompatLLM(OpenAICompatConfig.from_settings(settings))
        if backend == "sagemaker":
            from llm_engineering.infrastructure.llm.sagemaker import SageMakerConfig, SageMakerLLM

            return SageMakerLLM(SageMakerConfig.from_settings(settings))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    raise ConfigError(f"LLM_BACKEND must be local, openai or sagemaker, got {backend!r}")

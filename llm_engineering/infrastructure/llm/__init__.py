"""LLM adapters behind the `LLMClient` port: local transformers, OpenAI-compatible, SageMaker TGI."""

from llm_engineering.infrastructure.llm.factory import build_llm

__all__ = ["build_llm"]

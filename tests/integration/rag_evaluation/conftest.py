"""The API tests' small real store and tiny LLM, reused by the RAG evaluation pipeline test."""

from tests.integration.api.conftest import corpus, embedder, tiny_llm  # noqa: F401

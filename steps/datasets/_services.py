"""What the dataset steps build at run time: the tokenizer, the instruction writer, the LLM."""

from __future__ import annotations

from typing import Any

from zenml import log_metadata

from llm_engineering.application.ports import InstructionWriter
from llm_engineering.domain.datasets import DatasetGenerationConfig, DatasetMetadata
from llm_engineering.settings import Settings


def build_llm(settings: Settings) -> Any:
    """The configured LLM behind the `LLMClient` port: LLM_MODEL_PATH, else the base SmolLM2.

    No registry is passed, so this is never the production twin: rejected answers are the base
    model's own (LLM_BACKEND=openai points the LLM writer at an OpenAI-compatible server).
    """
    from llm_engineering.infrastructure.llm.factory import build_llm as factory

    return factory(settings)


def build_writer(settings: Settings, config: DatasetGenerationConfig) -> tuple[InstructionWriter, Any]:
    """(writer, LLM to close afterwards or None)."""
    from llm_engineering.application.datasets.writers import LLMInstructionWriter, TemplateInstructionWriter

    template = TemplateInstructionWriter(config.seed)
    if config.instruction_writer == "template":
        return template, None
    llm = build_llm(settings)
    writer = LLMInstructionWriter(
        llm, fallback=template, concurrency=config.llm_concurrency, seed=config.seed
    )
    return writer, llm


def log_dataset_metadata(metadata: DatasetMetadata, artifact_name: str) -> None:
    """Counts per author and category, token statistics and filter drops, on the step and the artifact."""
    values = metadata.model_dump(mode="json", exclude_none=True)  # ZenML metadata has no null
    log_metadata(metadata=values)
    log_metadata(metadata=values, artifact_name=artifact_name, infer_artifact=True)

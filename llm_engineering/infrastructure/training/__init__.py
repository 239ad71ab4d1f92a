"""Fine-tuning adapters (TRL, peft, transformers); heavy imports stay inside functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llm_engineering.infrastructure.training.trainer import TrlFineTuner
    from llm_engineering.settings import Settings


def build_fine_tuner(settings: Settings) -> TrlFineTuner:
    from llm_engineering.infrastructure.training.trainer import TrlFineTuner

    return TrlFineTuner(settings.MODEL_CACHE_DIR or settings.cache_dir / "models", settings.LLM_BASE_GGUF)

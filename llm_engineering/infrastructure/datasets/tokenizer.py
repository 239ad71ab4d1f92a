"""The tokenizer that sizes passages: the base model's own, so answer budgets are real tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.settings import Settings

#: DATASETS_TOKENIZER's default: the training issue's default base model
DEFAULT_TOKENIZER = "smollm2"


def load_tokenizer(settings: Settings) -> tuple[Any, str]:
    """(tokenizer, its name) for DATASETS_TOKENIZER: a folder, a `.gguf` file, "smollm2" or a Hub id."""
    from transformers import AutoTokenizer

    name = settings.DATASETS_TOKENIZER.strip() or DEFAULT_TOKENIZER
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError(
                f"DATASETS_TOKENIZER {name} does not exist: point it at a .gguf file or a folder"
            )
        return _gguf_tokenizer(path, settings.cache_dir), path.stem
    from llm_engineering.infrastructure.training.models import resolve_base_model

    folder = resolve_base_model(name, settings.cache_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"DATASETS_TOKENIZER {name}: no tokenizer could be loaded from {folder} ({exc})"
        ) from None
    return tokenizer, name


def _gguf_tokenizer(gguf: Path, cache_dir: Path) -> Any:
    """A GGUF's tokenizer, converted once into a folder under the cache (the conversion takes seconds)."""
    from transformers import AutoTokenizer

    target = cache_dir / "tokenizers" / gguf.stem
    if not (target / "tokenizer_config.json").exists():
        logger.info("converting the tokenizer of {} (once)", gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tokenizer.save_pretrained(str(target))
        return tokenizer
    return AutoTokenizer.from_pretrained(str(target))

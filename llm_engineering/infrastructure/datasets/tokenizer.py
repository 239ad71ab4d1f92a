"""The tokenizer that sizes passages: the base model's own, so answer budgets are real tokens."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.settings import REPO_ROOT, Settings

#: where set-up puts SmolLM2's GGUF (LLM_BASE_GGUF overrides it)
DEFAULT_GGUF = REPO_ROOT / ".tools" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def load_tokenizer(settings: Settings) -> tuple[Any, str]:
    """(tokenizer, its name) for DATASETS_TOKENIZER: a folder, a `.gguf` file or a Hub id.

    Empty means the base model's: SmolLM2-135M-Instruct's, read from the GGUF that set-up fetches
    (LLM_BASE_GGUF); only its tokenizer is converted (seconds, once), never the whole model.
    """
    from transformers import AutoTokenizer

    name = settings.DATASETS_TOKENIZER.strip()
    path = Path(name).expanduser() if name else Path(getattr(settings, "LLM_BASE_GGUF", DEFAULT_GGUF))
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError(
                f"the tokenizer's GGUF {path} does not exist: run ./scripts/poe once (set-up fetches it) "
                "or set DATASETS_TOKENIZER to a tokenizer folder or Hub id"
            )
        return _gguf_tokenizer(path, settings.cache_dir), path.stem.split(".")[0]
    if name.startswith((".", "/", "~")) and not path.exists():
        raise ConfigError(f"DATASETS_TOKENIZER {name} does not exist: point it at a tokenizer folder")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path) if path.exists() else name)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"DATASETS_TOKENIZER {name}: no tokenizer could be loaded ({type(exc).__name__}): "
            "pass a tokenizer folder, a .gguf file or a reachable Hub id"
        ) from None
    return tokenizer, path.name if path.exists() else name


def _gguf_tokenizer(gguf: Path, cache_dir: Path) -> Any:
    """A GGUF's tokenizer, converted once into a folder under the cache."""
    from transformers import AutoTokenizer

    target = cache_dir / "tokenizers" / gguf.stem
    target.parent.mkdir(parents=True, exist_ok=True)
    if (target / "tokenizer_config.json").exists():
        return AutoTokenizer.from_pretrained(str(target))
    logger.info("converting the tokenizer of {} (once)", gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tokenizer.save_pretrained(str(partial))
    try:
        partial.rename(target)
    except OSError:  # another process converted it first
        shutil.rmtree(partial, ignore_errors=True)
    return tokenizer

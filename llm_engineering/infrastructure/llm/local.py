"""The default LLM: a transformers model in this process, decoded by the lean batched engine.

Which model: `LLM_MODEL_PATH` when set; else the model registry's production twin when there is
one; else SmolLM2-135M-Instruct converted from the GGUF that set-up fetched. The model is loaded
once, in `warm_up()`; every request goes through one `BatchEngine`, so concurrent requests share
one decode loop. Prompts are rendered with the model's own chat template.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from loguru import logger

from llm_engineering.domain.llm import (
    ChatMessage,
    Completion,
    CompletionDelta,
    GenerationParams,
    LLMError,
    TokenUsage,
)

if TYPE_CHECKING:
    from llm_engineering.application.ports import ModelRegistry
    from llm_engineering.infrastructure.llm.engine import BatchEngine
    from llm_engineering.settings import Settings

Dtype = Literal["auto", "float32", "bfloat16", "int8"]


@dataclass(frozen=True)
class LocalLLMConfig:
    """Where the model comes from and how it runs. Empty `model_path` means registry, then SmolLM2."""

    model_path: Path | None = None
    gguf_path: Path | None = None
    cache_dir: Path | None = None
    device: str = "auto"
    dtype: Dtype = "auto"
    max_batch: int = 8
    max_seq_len: int = 4096
    #: intra-op threads of the decode loop; 0 means every core this process may run on
    threads: int = 0
    #: seconds between deltas of all running streams together: with n streams running, each sends
    #: the tokens it gathered every n x this (its first token at once); 0: per token
    stream_interval: float = 0.1
    #: MiB of KV kept for prompt prefixes that come back (system prompt, a chat's earlier turns)
    prefix_cache_mb: int = 256

    def __post_init__(self) -> None:
        if self.dtype not in ("auto", "float32", "bfloat16", "int8"):
            raise ValueError(f"LLM_DTYPE must be auto, float32, bfloat16 or int8, got {self.dtype!r}")
        if self.threads < 0:
            raise ValueError(f"LLM_NUM_THREADS must be >= 0 (0 means auto), got {self.threads}")
        if not 0.0 <= self.stream_interval <= 1.0:
            raise ValueError(f"LLM_STREAM_INTERVAL_MS must be 0-1000, got {self.stream_interval * 1000:g}")
        if self.prefix_cache_mb < 0:
            raise ValueError(f"LLM_PREFIX_CACHE_MB must be >= 0 (0 turns it off), got {self.prefix_cache_mb}")
        if self.max_batch < 1 or self.max_seq_len < 16:
            raise ValueError("LLM_MAX_BATCH must be >= 1 and LLM_MAX_SEQ_LEN >= 16")
        if self.model_path is None and (self.gguf_path is None or self.cache_dir is None):
            raise ValueError("without a model_path, the base model's gguf_path and a cache_dir are needed")

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalLLMConfig:
        return cls(
            model_path=Path(settings.LLM_MODEL_PATH) if settings.LLM_MODEL_PATH.strip() else None,
            gguf_path=settings.LLM_BASE_GGUF,
            cache_dir=settings.MODEL_CACHE_DIR or settings.cache_dir / "models",
            device=settings.LLM_DEVICE,
            dtype=settings.LLM_DTYPE,  # type: ignore[arg-type]  # validated in __post_init__
            max_batch=settings.LLM_MAX_BATCH,
            max_seq_len=settings.LLM_MAX_SEQ_LEN,
            threads=settings.LLM_NUM_THREADS,
            stream_interval=settings.LLM_STREAM_INTERVAL_MS / 1000,
            prefix_cache_mb=settings.LLM_PREFIX_CACHE_MB,
        )

    def decode_threads(self) -> int:
        """`threads`, or when 0 every core this process may use: the decode loop owns the cores.

        OpenMP (libgomp) stops spinning and sleeps between parallel regions once a process holds
        more OpenMP threads than cores, which doubles a decode step's time. So in a process that
        serves the LLM, every other thread that runs torch should use one intra-op thread (the
        API's worker threads do: `infrastructure.compute.single_threaded_torch`)."""
        import os

        if self.threads:
            return self.threads
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
        return max(1, len(usable))

    def resolved_dtype(self, device: str) -> Literal["float32", "bfloat16", "int8"]:
        """`auto` is int8 on a CPU (4x fewer weight bytes per token, perplexity +0.8% on the
        handbook corpus) and bfloat16 on a GPU; int8 asked for on a GPU becomes bfloat16."""
        if self.dtype == "auto":
            return "int8" if device == "cpu" else "bfloat16"
        if self.dtype == "int8" and device != "cpu":
            logger.info("LLM_DTYPE=int8 is CPU-only: decoding in bfloat16 on {}", device)
            return "bfloat16"
        return self.dtype


class LocalLLM:
    """`LLMClient` over a local transformers model. Cheap to construct; `warm_up()` loads."""

    def __init__(self, config: LocalLLMConfig, registry: ModelRegistry | None = None) -> None:
        self.config = config
        self.registry = registry
        self._lock = threading.Lock()
        self._model_dir: Path | None = None
        self._model_name: str | None = None
        self._tokenizer: Any = None
        self._engine: BatchEngine | None = None
        self._eos_ids: frozenset[int] = frozenset()
        self._context_window: int | None = None
        #: the dtype decoding runs in, once warmed up (`auto` resolved)
        self.dtype: str | None = None

    # -- which model ---------------------------------------------------------------------------

    def _resolve(self) -> tuple[Path, str]:
        if self._model_dir is not None and self._model_name is not None:
            return self._model_dir, self._model_name
        if self.config.model_path is not None:
            path = self.config.model_path
            if not (path / "config.json").is_file():
                raise LLMError(f"LLM_MODEL_PATH {path} is not a transformers model folder (no config.json)")
            resolved = (path, path.name)
        else:
            twin = self.registry.production() if self.registry is not None else None
            if twin is not None:
                resolved = (Path(twin.weights_dir), f"twin:{twin.version}")
            else:
                from llm_engineering.infrastructure.llm.provision import BASE_MODEL_NAME, ensure_base_model

                assert self.config.gguf_path is not None and self.config.cache_dir is not None
                resolved = (ensure_base_model(self.config.gguf_path, self.config.cache_dir), BASE_MODEL_NAME)
        self._model_dir, self._model_name = resolved
        return resolved

    @property
    def model_name(self) -> str:
        return self._resolve()[1]

    @property
    def context_window(self) -> int:
        """The model's positions (config.json), capped at LLM_MAX_SEQ_LEN (the KV cache's size)."""
        if self._context_window is None:
            config = json.loads((self._resolve()[0] / "config.json").read_text())
            native = int(config.get("max_position_embeddings") or self.config.max_seq_len)
            self._context_window = min(native, self.config.max_seq_len)
        return self._context_window

    # -- lifecycle -----------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load tokenizer and model and start the batch engine. Idempotent, thread-safe."""
        if self._engine is not None:
            return
        with self._lock:
            if self._engine is not None:
                return
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

            from llm_engineering.infrastructure.compute import torch_threads
            from llm_engineering.infrastructure.llm.engine import BatchEngine, LlamaDecoder

            model_dir, name = self._resolve()
            device = self.config.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            dtype_name = self.config.resolved_dtype(device)
            quantize: Literal["int8"] | None = "int8" if dtype_name == "int8" else None
            dtype = torch.float32 if quantize else getattr(torch, dtype_name)
            logger.info("Loading local LLM {} ({}, {}, {})", name, model_dir, device, dtype_name)
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            if not tokenizer.chat_template:
                raise LLMError(f"the model at {model_dir} has no chat template: use an instruct/chat model")
            # single-threaded: no OpenMP pool in the caller's thread, the decode loop owns the cores
            with torch_threads(1):
                model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
                seq_len = min(self.context_window, self.config.max_seq_len)
                decoder = LlamaDecoder(
                    model, max_batch=self.config.max_batch, max_seq_len=seq_len, quantize=quantize
                )
            eos: set[int] = set()
            try:
                generation = GenerationConfig.from_pretrained(model_dir)
                eos.update(_as_ids(generation.eos_token_id))
            except OSError:  # no generation_config.json
                pass
            eos.update(_as_ids(model.config.eos_token_id))
            eos.update(_as_ids(tokenizer.eos_token_id))
            self._eos_ids = frozenset(eos)
            self._tokenizer = tokenizer
            self._engine = BatchEngine(
                decoder,
                threads=self.config.decode_threads(),
                prefix_cache_bytes=self.config.prefix_cache_mb * 2**20,
            )
            self.dtype = dtype_name

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

    # -- tokens --------------------------------------------------------------------------------

    def encode_chat(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The prompt's token ids: the chat template with the assistant turn opened."""
        self.warm_up()
        if not messages:
            raise LLMError("no messages to answer: send at least one user message")
        text = self._tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
            tokenize=False,
        )
        return list(self._tokenizer(text, add_special_tokens=False).input_ids)

    def reusable_prefix(self, messages: Sequence[ChatMessage], prompt: Sequence[int]) -> int:
        """How many leading prompt tokens are the messages before the last: the opening that the
        same chat's next turn, and every request with the same system prompt, shares."""
        if len(messages) < 2 or not self.config.prefix_cache_mb:
            return 0
        try:
            text = self._tokenizer.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in messages[:-1]], tokenize=False
            )
        except Exception:  # a template that refuses a partial conversation: nothing to share
            return 0
        head = self._tokenizer(text, add_special_tokens=False).input_ids
        shared = 0
        for ours, theirs in zip(head, prompt, strict=False):
            if ours != theirs:
                break
            shared += 1
        return shared

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return len(self.encode_chat(messages))

    # -- generation ----------------------------------------------------------------------------

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        parts: list[str] = []
        last = CompletionDelta()
        for delta in self.stream(messages, params):
            parts.append(delta.text)
            last = delta
        return Completion(
            text="".join(parts),
            finish_reason=last.finish_reason or "stop",
            usage=last.usage or TokenUsage(),
            model=self.model_name,
        )

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        """Text deltas as tokens are decoded; closing the iterator cancels the request at once."""
        from llm_engineering.infrastructure.llm.engine import GenerationRequest

        prompt = self.encode_chat(messages)
        assert self._engine is not None
        request = self._engine.submit(
            GenerationRequest(
                prompt_ids=prompt,
                max_new_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                seed=params.seed,
                eos_ids=self._eos_ids,
                reusable_prefix=self.reusable_prefix(messages, prompt),
            )
        )
        return self._deltas(request, prompt_tokens=len(prompt), stops=params.stop)

    def _deltas(
        self, request: Any, *, prompt_tokens: int, stops: tuple[str, ...]
    ) -> Iterator[CompletionDelta]:
        """The request's tokens as text deltas: the first at once, then what each wait gathered,
        as one delta. Every delta wakes this thread, the event loop and the client, each of which
        takes a core (and the GIL) from the decode loop while its OpenMP threads wait for it:
        about 5 ms of decoding lost per delta on two cores. So the engine's streams together
        send one delta per `stream_interval`: each of n running streams waits n x that. The wait
        ends early when the request finishes."""
        detok = _StreamDetokenizer(self._tokenizer, stops)
        reason: str | None = None
        try:
            while reason is None:
                parts: list[str] = []
                for kind, value in _drain(request.events):
                    if kind == "error":
                        raise LLMError(f"local generation failed: {value}") from value
                    if kind == "end":
                        reason = value
                        break
                    text, stopped = detok.push(value)
                    parts.append(text)
                    if stopped:
                        reason = "stop"
                        request.cancel()
                        break
                if reason not in (None, "stop"):
                    parts.append(detok.flush())
                text = "".join(parts)
                if reason is None:
                    if text:
                        yield CompletionDelta(text=text)
                    running = self._engine.active_count if self._engine is not None else 1
                    request.cancelled.wait(self.config.stream_interval * max(1, running))  # set at the end
            # the tokens up to the end: after a stop string the engine may have decoded a few more
            usage = TokenUsage(prompt_tokens=prompt_tokens, completion_tokens=len(detok.ids))
            yield CompletionDelta(text=text, finish_reason=reason, usage=usage)
        finally:
            request.cancel()  # a consumer that went away (GeneratorExit) frees its batch slot


def _drain(events: queue.SimpleQueue[Any]) -> list[Any]:
    """The next event (waiting for it) and every other one already queued."""
    drained = [events.get()]
    while True:
        try:
            drained.append(events.get_nowait())
        except queue.Empty:
            return drained


def _as_ids(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value]


class _StreamDetokenizer:
    """Turns token ids into text deltas: holds back half UTF-8 characters and partial stop strings."""

    def __init__(self, tokenizer: Any, stops: tuple[str, ...]) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(s for s in stops if s)
        self.ids: list[int] = []
        self.text = ""
        self.emitted = 0

    def push(self, token: int) -> tuple[str, bool]:
        """The new text that is safe to show, and whether a stop string ended the answer."""
        self.ids.append(token)
        self.text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if self.stops:
            longest = max(len(s) for s in self.stops)
            start = max(0, self.emitted - longest)
            hits = [i for i in (self.text.find(s, start) for s in self.stops) if i >= 0]
            if hits:
                cut = min(hits)
                out = self.text[self.emitted : cut] if cut > self.emitted else ""
                self.emitted = max(self.emitted, cut)
                return out, True
        safe = len(self.text)
        if self.text.endswith("\ufffd"):  # a multi-byte character still incomplete
            safe = len(self.text.rstrip("\ufffd"))
        hold = 0  # keep back a tail that may grow into a stop string
        for stop in self.stops:
            for k in range(min(len(stop) - 1, safe - self.emitted), hold, -1):
                if self.text[safe - k : safe] == stop[:k]:
                    hold = k
                    break
        safe -= hold
        if safe <= self.emitted:
            return "", False
        out = self.text[self.emitted : safe]
        self.emitted = safe
        return out, False

    def flush(self) -> str:
        out = self.text[self.emitted :]
        self.emitted = len(self.text)
        return out

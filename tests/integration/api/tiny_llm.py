"""A real, tiny chat LLM built in the test: a 2-layer Llama with random weights and a BPE tokenizer
trained on the fly, served through the `LLMClient` port with a plain KV-cache decode loop.

Its answers are gibberish, but every code path is the real one: chat template, token counting,
greedy decoding (deterministic), streaming, `max_tokens`, stop sequences, and cancellation (the
stream is a generator: closing it stops the decode loop).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from llm_engineering.domain.llm import ChatMessage, Completion, CompletionDelta, GenerationParams, TokenUsage
from tests.support.tiny_llama import chatml_tokenizer, tiny_llama_config


class TinyLlama:
    """`LLMClient` over a tiny random Llama; one decode at a time (a lock), greedy or sampled."""

    def __init__(self, corpus: Sequence[str], *, context_window: int = 4096, seed: int = 0) -> None:
        import torch
        from transformers import LlamaForCausalLM

        torch.manual_seed(seed)
        self.tokenizer = chatml_tokenizer(corpus, vocab_size=600)
        config = tiny_llama_config(
            self.tokenizer,
            hidden_size=64,
            intermediate_size=128,
            max_position_embeddings=context_window,
            tie_word_embeddings=False,
        )
        self.model = LlamaForCausalLM(config).eval()
        self.model_name = "tiny-llama-test"
        self.context_window = context_window
        self._lock = threading.Lock()
        self.warm_ups = 0

    def warm_up(self) -> None:
        self.warm_ups += 1

    def _ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        rendered = self.tokenizer.apply_chat_template(
            [m.model_dump() for m in messages], add_generation_prompt=True, tokenize=False
        )
        return self.tokenizer(rendered, add_special_tokens=False)["input_ids"]

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return len(self._ids(messages))

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        text: list[str] = []
        last = CompletionDelta(finish_reason="stop", usage=TokenUsage())
        for delta in self.stream(messages, params):
            text.append(delta.text)
            if delta.finish_reason:
                last = delta
        assert last.usage is not None
        return Completion(
            text="".join(text),
            finish_reason=last.finish_reason or "stop",
            usage=last.usage,
            model=self.model_name,
        )

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        import torch

        ids = self._ids(messages)
        generator = torch.Generator().manual_seed(params.seed or 0)
        produced: list[int] = []
        emitted = ""
        reason = "length"
        past: Any = None
        step_input = torch.tensor([ids])
        for _ in range(params.max_tokens):
            with self._lock, torch.inference_mode():
                out = self.model(input_ids=step_input, cache=past, use_cache=True)
            past = out.cache
            logits = out.logits[0, -1]
            if params.temperature > 0:
                probs = torch.softmax(logits / params.temperature, dim=-1)
                token = int(torch.multinomial(probs, 1, generator=generator))
            else:
                token = int(logits.argmax())
            if token == self.tokenizer.eos_token_id:
                reason = "stop"
                break
            produced.append(token)
            text = self.tokenizer.decode(produced, skip_special_tokens=True)
            stop_at = min((text.find(s) for s in params.stop if s in text), default=-1)
            if stop_at >= 0:
                if stop_at > len(emitted):
                    yield CompletionDelta(text=text[len(emitted) : stop_at])
                reason = "stop"
                break
            if len(text) > len(emitted) and not text.endswith("\ufffd"):
                yield CompletionDelta(text=text[len(emitted) :])
                emitted = text
            step_input = torch.tensor([[token]])
        yield CompletionDelta(
            finish_reason=reason,  # type: ignore[arg-type]
            usage=TokenUsage(prompt_tokens=len(ids), completion_tokens=len(produced)),
        )

    def close(self) -> None:
        pass


class GatedLLM:
    """The tiny LLM with hooks a test can hold: a gate before the first token, a pause per token,
    and a record of streams that ended (closed early or finished)."""

    def __init__(self, inner: TinyLlama, *, per_token_s: float = 0.0) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.context_window = inner.context_window
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.per_token_s = per_token_s
        self.ended: list[dict[str, Any]] = []

    def warm_up(self) -> None:
        self.inner.warm_up()

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self.inner.count_tokens(messages)

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        return self.inner.complete(messages, params)

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        import time

        self.started.set()
        self.gate.wait(30)
        tokens, finished = 0, False
        try:
            for delta in self.inner.stream(messages, params):
                if delta.finish_reason:
                    finished = True
                tokens += 1
                yield delta
                if self.per_token_s:
                    time.sleep(self.per_token_s)
        finally:
            self.ended.append({"finished": finished, "deltas": tokens})

    def close(self) -> None:
        pass

"""A real, tiny causal LM (random 2-layer Llama) behind the `LLMClient` port, built in the test.

Its answers are gibberish, which is what a test of the plumbing needs: real tokenization, a real
chat template and real batched generation, in well under a second per answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from llm_engineering.domain.llm import ChatMessage, Completion, CompletionDelta, GenerationParams, TokenUsage

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class TinyLLM:
    model_name = "tiny-llama"
    context_window = 512

    def __init__(self, tokenizer: Any, seed: int = 0) -> None:
        self.tokenizer = tokenizer
        self.seed = seed
        self.model: Any = None
        self.calls = 0
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        if self.model is not None:
            return
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(self.seed)
        config = LlamaConfig(
            vocab_size=len(self.tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=self.context_window,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        self.model = LlamaForCausalLM(config).eval()

    def _ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        rendered = self.tokenizer.apply_chat_template(
            [m.model_dump() for m in messages],
            chat_template=CHATML,
            tokenize=False,
            add_generation_prompt=True,
        )
        return self.tokenizer(rendered, add_special_tokens=False, truncation=True, max_length=256)[
            "input_ids"
        ]

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return len(self._ids(messages))

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        import torch

        self.warm_up()
        ids = self._ids(messages)
        with self._lock, torch.inference_mode():
            self.calls += 1
            out = self.model.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=min(params.max_tokens, 24),
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = out[0, len(ids) :].tolist()
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        usage = TokenUsage(prompt_tokens=len(ids), completion_tokens=len(new))
        return Completion(text=text, finish_reason="length", usage=usage, model=self.model_name)

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        done = self.complete(messages, params)
        yield CompletionDelta(text=done.text, finish_reason=done.finish_reason, usage=done.usage)

    def close(self) -> None:
        self.model = None

"""The judge: an OpenAI-compatible chat model (OpenAI, vLLM, Ollama, ...), configured by JUDGE_*.

A thin `LLMClient` over the `openai` client, for judging only (non-streaming, temperature 0).
Not exercised against a real API here: this machine reaches none.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from llm_engineering.application.evaluation.judge import judge_unusable_reason
from llm_engineering.domain.llm import ChatMessage, Completion, CompletionDelta, GenerationParams, TokenUsage
from llm_engineering.settings import Settings


class OpenAIJudgeClient:
    def __init__(self, model: str, *, api_key: str, base_url: str | None, timeout: float) -> None:
        self.model_name = model
        self.context_window = 128_000
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        self._client: Any = None

    def warm_up(self) -> None:
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(api_key=self._api_key, base_url=self._base_url, timeout=self._timeout)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(len(m.content) for m in messages) // 4  # an estimate: the remote tokenizer is unknown

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        self.warm_up()
        response = self._client.chat.completions.create(
            model=self.model_name,
            messages=[m.model_dump() for m in messages],
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            seed=params.seed,
            response_format={"type": "json_object"},
        )
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            finish_reason="length" if choice.finish_reason == "length" else "stop",
            usage=TokenUsage(
                prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            ),
            model=self.model_name,
        )

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        completion = self.complete(messages, params)
        yield CompletionDelta(
            text=completion.text, finish_reason=completion.finish_reason, usage=completion.usage
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def build_judge(settings: Settings, *, enabled: bool = True) -> tuple[OpenAIJudgeClient | None, str | None]:
    """(the judge, None), or (None, why judging is skipped)."""
    if not enabled:
        return None, "judging is off in the config (judge: false)"
    reason = judge_unusable_reason(settings.JUDGE_MODEL)
    if reason is not None:
        return None, reason
    key = (
        settings.JUDGE_API_KEY.get_secret_value()
        if settings.JUDGE_API_KEY
        else os.environ.get("OPENAI_API_KEY")
    )
    if not key and not settings.JUDGE_BASE_URL:
        return None, "JUDGE_MODEL is set but no JUDGE_API_KEY (or OPENAI_API_KEY) for OpenAI's API: set one"
    return (
        OpenAIJudgeClient(
            settings.JUDGE_MODEL,
            api_key=key or "not-needed",
            base_url=settings.JUDGE_BASE_URL or None,
            timeout=settings.JUDGE_TIMEOUT,
        ),
        None,
    )

"""An LLM behind any server that speaks the OpenAI chat API, through the official `openai` SDK.

vLLM, TGI, Ollama, the llama.cpp server and OpenAI itself all qualify. Timeouts and retries are
the SDK's own: it retries connection errors, 408, 409, 429 and 5xx with exponential backoff
(honouring Retry-After) up to `max_retries` times.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from llm_engineering.domain.llm import (
    ChatMessage,
    Completion,
    CompletionDelta,
    GenerationParams,
    LLMError,
    TokenUsage,
)

if TYPE_CHECKING:
    from llm_engineering.settings import Settings

_FINISH = {"stop": "stop", "length": "length", "content_filter": "stop", "tool_calls": "stop"}


def estimate_tokens(messages: Sequence[ChatMessage]) -> int:
    """A remote model's tokenizer is unknown here: about 4 characters a token, plus framing."""
    return sum(len(m.content) // 4 + 4 for m in messages) + 3


@dataclass(frozen=True)
class OpenAICompatConfig:
    model: str
    base_url: str = ""
    api_key: SecretStr | None = None
    context_window: int = 8192
    timeout: float = 60.0
    max_retries: int = 3

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError(
                "LLM_MODEL is empty: set it to the model name the OpenAI-compatible server serves"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatConfig:
        return cls(
            model=settings.LLM_MODEL,
            base_url=settings.LLM_BASE_URL,
            api_key=settings.LLM_API_KEY,
            context_window=settings.LLM_CONTEXT_WINDOW,
            timeout=settings.LLM_TIMEOUT,
            max_retries=settings.LLM_MAX_RETRIES,
        )


class OpenAICompatLLM:
    """`LLMClient` over an OpenAI-compatible chat endpoint."""

    def __init__(self, config: OpenAICompatConfig) -> None:
        self.config = config
        self.model_name = config.model
        self.context_window = config.context_window
        self._client: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Build the SDK client (no request is sent). Idempotent."""
        if self._client is not None:
            return
        with self._lock:
            if self._client is None:
                import openai

                key = self.config.api_key.get_secret_value() if self.config.api_key else "not-needed"
                self._client = openai.OpenAI(
                    base_url=self.config.base_url or None,
                    api_key=key,
                    timeout=self.config.timeout,
                    max_retries=self.config.max_retries,
                )

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return estimate_tokens(messages)

    def _request(self, messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        if not messages:
            raise LLMError("no messages to answer: send at least one user message")
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        return body

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        import openai

        self.warm_up()
        try:
            response = self._client.chat.completions.create(**self._request(messages, params))
        except openai.OpenAIError as exc:
            raise LLMError(f"the LLM server at {self.config.base_url or 'OpenAI'} failed: {exc}") from exc
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            finish_reason=_FINISH.get(choice.finish_reason or "stop", "stop"),  # type: ignore[arg-type]
            usage=TokenUsage(
                prompt_tokens=usage.prompt_tokens if usage else estimate_tokens(messages),
                completion_tokens=usage.completion_tokens if usage else 0,
            ),
            model=response.model or self.model_name,
        )

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        import openai

        self.warm_up()
        body = self._request(messages, params)
        try:
            chunks = self._client.chat.completions.create(
                **body, stream=True, stream_options={"include_usage": True}
            )
        except openai.OpenAIError as exc:
            raise LLMError(f"the LLM server at {self.config.base_url or 'OpenAI'} failed: {exc}") from exc
        return self._deltas(chunks, messages)

    def _deltas(self, chunks: Any, messages: Sequence[ChatMessage]) -> Iterator[CompletionDelta]:
        import openai

        reason = "stop"
        usage: TokenUsage | None = None
        produced = 0
        try:
            for chunk in chunks:
                if chunk.usage is not None:
                    usage = TokenUsage(
                        prompt_tokens=chunk.usage.prompt_tokens,
                        completion_tokens=chunk.usage.completion_tokens,
                    )
                for choice in chunk.choices:
                    text = choice.delta.content if choice.delta else None
                    if text:
                        produced += 1
                        yield CompletionDelta(text=text)
                    if choice.finish_reason:
                        reason = _FINISH.get(choice.finish_reason, "stop")
        except openai.OpenAIError as exc:
            raise LLMError(f"the LLM server's stream broke off: {exc}") from exc
        finally:
            chunks.close()  # a consumer that went away closes the HTTP response: the server stops
        if usage is None:  # a server without stream usage: count what came
            usage = TokenUsage(prompt_tokens=estimate_tokens(messages), completion_tokens=produced)
        yield CompletionDelta(finish_reason=reason, usage=usage)  # type: ignore[arg-type]

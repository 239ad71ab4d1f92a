"""What an LLM is asked and what it answers, independent of who serves it (no I/O)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.exceptions import LLMTwinException, PromptTooLong

__all__ = ["PromptTooLong"]  # one class for "does not fit the window", wherever it is found

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled"]


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


class GenerationParams(BaseModel):
    """Sampling settings shared by every LLM adapter; `temperature == 0` means greedy."""

    model_config = ConfigDict(frozen=True)

    max_tokens: int = Field(256, ge=1, le=32768)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: tuple[str, ...] = ()
    seed: int | None = None


class TokenUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Completion(BaseModel):
    text: str
    finish_reason: FinishReason
    usage: TokenUsage
    model: str


class CompletionDelta(BaseModel):
    """One streamed piece. The last delta has `finish_reason` and `usage` set."""

    text: str = ""
    finish_reason: FinishReason | None = None
    usage: TokenUsage | None = None


class LLMError(LLMTwinException):
    """The LLM cannot answer: not provisioned, unreachable, or the request does not fit it."""

"""Request and response models of the API, mirroring OpenAI's chat schema field for field.

Validation happens here: a bad request never reaches the serving layer. Fields OpenAI defines
that the twin does not use (frequency_penalty, logit_bias, ...) are accepted and ignored, like
vLLM does; `n > 1`, tools and images are refused with a message naming the field.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llm_engineering.domain.llm import ChatMessage
from llm_engineering.domain.rag import Source


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextContentPart(_Request):
    type: Literal["text"]
    text: str


class ChatMessageParam(_Request):
    """One message; `developer` is OpenAI's new name for `system`."""

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextContentPart] | None = None
    name: str | None = None

    def to_domain(self) -> ChatMessage:
        if isinstance(self.content, list):
            text = "".join(part.text for part in self.content)
        else:
            text = self.content or ""
        return ChatMessage(role="system" if self.role == "developer" else self.role, content=text)


class StreamOptions(_Request):
    include_usage: bool = False


class ChatCompletionRequest(_Request):
    model: str | None = None
    messages: list[ChatMessageParam] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    #: OpenAI's newer name for max_tokens; wins when both are set
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    n: int = Field(1, ge=1, le=1)
    seed: int | None = None
    user: str | None = None
    tools: list[Any] | None = Field(None, max_length=0)

    @field_validator("stop")
    @classmethod
    def _at_most_four_stops(cls, stop: str | list[str] | None) -> str | list[str] | None:
        if isinstance(stop, list) and len(stop) > 4:
            raise ValueError("at most 4 stop sequences are allowed")
        return stop

    def stop_sequences(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return tuple(s for s in ([self.stop] if isinstance(self.stop, str) else self.stop) if s)

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class SourceOut(BaseModel):
    """A source the answer may cite as [number]: where it comes from and the quoted text."""

    number: int
    link: str | None
    title: str
    author_full_name: str
    category: str
    content: str
    cited: bool

    @classmethod
    def of(cls, source: Source) -> SourceOut:
        return cls(
            number=source.number,
            link=source.link,
            title=source.title,
            author_full_name=source.author_full_name,
            category=source.category.value,
            content=source.content,
            cited=source.cited,
        )


class UsageInfo(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatCompletionChoice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: Literal["stop", "length"] | None
    logprobs: None = None


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=completion_id)
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatCompletionChoice]
    usage: UsageInfo
    #: the twin's extra: every source given to the model, each marked `cited`
    sources: list[SourceOut] = Field(default_factory=list)


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatCompletionStreamChoice(BaseModel):
    index: int = 0
    delta: DeltaMessage
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatCompletionStreamChoice]
    usage: UsageInfo | None = None
    #: on the chunk that carries finish_reason: every source, each marked `cited`
    sources: list[SourceOut] | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "llm-twin"
    #: the model generating the twin's answers
    root: str
    context_window: int


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class RAGRequest(_Request):
    query: str = Field(min_length=1)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, query: str) -> str:
        if not query.strip():
            raise ValueError("must not be blank: ask a question")
        return query


class RAGResponse(BaseModel):
    answer: str
    sources: list[SourceOut]
    model: str
    usage: UsageInfo


class HealthResponse(BaseModel):
    status: Literal["ok", "loading", "failed"]
    detail: str | None = None


class ErrorInfo(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo

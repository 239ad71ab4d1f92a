"""What the twin answers with: numbered sources, timings, the answer itself. No I/O."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from llm_engineering.domain.llm import ChatMessage, TokenUsage
from llm_engineering.domain.types import DataCategory


class Source(BaseModel):
    """One numbered source given to the model: a document and the passages of it that were used."""

    number: int = Field(ge=1)
    document_id: UUID
    link: str | None
    title: str
    author_full_name: str
    category: DataCategory
    #: the quoted text: the document's retrieved chunks, overlaps merged, in document order
    content: str
    chunk_indices: list[int]
    score: float
    #: whether the answer cites it as [number]
    cited: bool = False


class StageTimings(BaseModel):
    """Milliseconds per RAG stage (0 when a stage is off)."""

    self_query_ms: float = 0.0
    expansion_ms: float = 0.0
    retrieval_ms: float = 0.0
    rerank_ms: float = 0.0
    prompt_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.self_query_ms + self.expansion_ms + self.retrieval_ms + self.rerank_ms + self.prompt_ms


class PreparedPrompt(BaseModel):
    """The messages to send to the LLM, with the sources they number and what it took to build them."""

    messages: list[ChatMessage]
    sources: list[Source]
    query: str
    author_filter: str | None = None
    expanded_queries: list[str] = Field(default_factory=list)
    prompt_tokens: int = 0
    timings: StageTimings = Field(default_factory=StageTimings)


class Answer(BaseModel):
    text: str
    sources: list[Source]
    usage: TokenUsage = Field(default_factory=TokenUsage)
    finish_reason: str = "stop"
    author_filter: str | None = None
    timings: StageTimings = Field(default_factory=StageTimings)

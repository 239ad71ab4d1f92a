"""One validated config for the whole RAG chain, each stage optional (`rag:` in configs/inference.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Stage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelfQueryConfig(_Stage):
    """Find the author a question is about and filter retrieval on them."""

    enabled: bool = True
    #: "fuzzy": match the names in the question against the feature store's authors, no LLM;
    #: "llm": ask the LLM for the name, then match its answer the same way (guards against inventions)
    method: Literal["fuzzy", "llm"] = "fuzzy"
    #: rapidfuzz ratio (0-100) a name in the question needs to count as a (mis)spelt author name
    min_score: float = Field(85.0, ge=50.0, le=100.0)


class ExpansionConfig(_Stage):
    """Rewrite the question n ways through the LLM and fuse the results with reciprocal rank fusion.

    Off by default: the tiny local model writes poor rewrites. Turn on with a capable LLM.
    """

    enabled: bool = False
    n: int = Field(3, ge=1, le=10)
    rrf_k: int = Field(60, ge=1)


class RetrievalConfig(_Stage):
    #: hybrid (dense + BM25, fused in the engine) is at least as good as dense on our eval set
    mode: Literal["dense", "hybrid"] = "hybrid"
    #: chunks fetched per query (before reranking and the token budget)
    candidates: int = Field(12, ge=1, le=200)


class RerankConfig(_Stage):
    """Reorder candidates. No pretrained cross-encoder is reachable offline, so the default is none."""

    method: Literal["none", "cross-encoder", "llm"] = "none"
    #: a sentence-transformers CrossEncoder folder (method cross-encoder)
    model_path: str | None = None

    @model_validator(mode="after")
    def _model_for_cross_encoder(self) -> RerankConfig:
        if self.method == "cross-encoder" and not self.model_path:
            raise ValueError("rerank.method cross-encoder needs rerank.model_path (a CrossEncoder folder)")
        return self


class ContextConfig(_Stage):
    """How much retrieved text the model sees."""

    #: sources (documents) given to the model at most
    max_sources: int = Field(2, ge=1, le=50)
    #: tokens of context at most (None: whatever the window leaves after the prompt and the answer)
    max_context_tokens: int | None = Field(400, ge=16)
    #: drop chunks whose text nearly repeats one already kept (rapidfuzz ratio >= this)
    near_duplicate_ratio: float = Field(95.0, ge=50.0, le=100.0)


class RAGConfig(_Stage):
    self_query: SelfQueryConfig = Field(default_factory=SelfQueryConfig)
    expansion: ExpansionConfig = Field(default_factory=ExpansionConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    rerank: RerankConfig = Field(default_factory=RerankConfig)
    context: ContextConfig = Field(default_factory=ContextConfig)
    #: tokens kept free for the answer when the request does not say (max_tokens)
    answer_tokens: int = Field(256, ge=1)

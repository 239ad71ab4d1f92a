"""Fine-tuning datasets: passages of a person's text and the samples built from them. No I/O.

Every sample keeps where it came from (`source_document_id`, `author_full_name`): train and test
are split by source document, so no text of a test document is ever seen in training.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_engineering.domain.exceptions import LLMTwinException
from llm_engineering.domain.types import DataCategory


class DatasetError(LLMTwinException):
    """Datasets cannot be built or found; the message says which input is wrong and what to do."""


class DatasetKind(StrEnum):
    """The two datasets the training pipeline reads; their ZenML artifact names below."""

    INSTRUCTION = "instruction"
    PREFERENCE = "preference"

    @property
    def artifact_name(self) -> str:
        return {DatasetKind.INSTRUCTION: "instruct_datasets", DatasetKind.PREFERENCE: "preference_datasets"}[
            self
        ]

    @property
    def file_prefix(self) -> str:
        """`instruct_train.jsonl`, `preference_test.jsonl`, ..."""
        return {DatasetKind.INSTRUCTION: "instruct", DatasetKind.PREFERENCE: "preference"}[self]


class Passage(BaseModel):
    """A piece of one cleaned document, cut along its structure, sized to answer in one turn."""

    model_config = ConfigDict(frozen=True)

    source_document_id: str
    author_full_name: str
    category: DataCategory
    platform: str
    title: str = ""
    #: the headings above the passage, outermost first (the document title excluded)
    headings: tuple[str, ...] = ()
    #: the person's text, verbatim (a heading that opens the passage is in `headings`, not here)
    text: str
    token_count: int
    #: position of the passage in its document
    index: int


class InstructSample(BaseModel):
    """(instruction, answer): the answer is the person's own passage, verbatim."""

    instruction: str
    answer: str
    source_document_id: str
    author_full_name: str
    category: DataCategory
    title: str = ""


class PreferenceSample(BaseModel):
    """(prompt, chosen, rejected): chosen is the person's passage, rejected the base model's answer."""

    prompt: str
    chosen: str
    rejected: str
    source_document_id: str
    author_full_name: str
    category: DataCategory
    title: str = ""


class TokenStats(BaseModel):
    """Answer (chosen) lengths in the tokenizer's tokens."""

    count: int = 0
    mean: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    max: int = 0
    total: int = 0


class DatasetMetadata(BaseModel):
    """What a dataset holds and how it was made; ZenML shows it beside the artifact."""

    kind: DatasetKind
    #: {"train": {author: n}, "test": {author: n}}
    samples_per_author: dict[str, dict[str, int]] = Field(default_factory=dict)
    #: {"train": {category: n}, "test": {category: n}}
    samples_per_category: dict[str, dict[str, int]] = Field(default_factory=dict)
    #: {"train": n_documents, "test": n_documents}
    documents: dict[str, int] = Field(default_factory=dict)
    answer_tokens: TokenStats = Field(default_factory=TokenStats)
    #: why samples were dropped, and how many: {"too_short": 3, "near_duplicate": 1, ...}
    filter_drops: dict[str, int] = Field(default_factory=dict)
    passages: int = 0
    instruction_writer: str = ""
    tokenizer: str = ""
    #: the model that wrote the rejected answers (preference datasets)
    rejected_model: str | None = None
    seed: int = 0
    test_size: float = 0.0
    #: sha256 of the samples, for lineage in the model card
    content_hash: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)


T = TypeVar("T", InstructSample, PreferenceSample)


class DatasetSplits(BaseModel, Generic[T]):
    """A train and a test split; a source document's samples are all in one of them."""

    train: list[T] = Field(default_factory=list)
    test: list[T] = Field(default_factory=list)
    metadata: DatasetMetadata

    def splits(self) -> dict[str, list[T]]:
        return {"train": self.train, "test": self.test}


class InstructDatasets(DatasetSplits[InstructSample]):
    """The `instruct_datasets` artifact (a concrete class, so ZenML can load it back by path)."""


class PreferenceDatasets(DatasetSplits[PreferenceSample]):
    """The `preference_datasets` artifact."""


class DatasetGenerationConfig(BaseModel):
    """How `generate_datasets` builds its samples (the `generation:` block of its YAML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: "template" (offline: title, headings, category, platform) or "llm" (the configured LLMClient)
    instruction_writer: Literal["template", "llm"] = "template"
    seed: int = 42
    #: share of each author's documents held out for the test split
    test_size: float = Field(0.1, ge=0.0, lt=1.0)
    #: answers shorter than this (tokens of the base model's tokenizer) are dropped
    min_answer_tokens: int = Field(32, ge=1)
    #: passages are packed up to this size; longer answers are dropped
    max_answer_tokens: int = Field(400, ge=16)
    #: MinHash-estimated Jaccard similarity (word 3-shingles) above which an answer is a near-duplicate
    dedup_threshold: float = Field(0.8, gt=0.0, le=1.0)
    #: share of an answer's characters in fenced code above which it is "code only" (not for repositories)
    max_code_share: float = Field(0.8, gt=0.0, le=1.0)
    #: share of boilerplate lines (subscribe, share, image credits, bare links) above which it is dropped
    max_boilerplate_share: float = Field(0.6, gt=0.0, le=1.0)
    #: preference: cap the samples given to the base model (seeded pick; None keeps all)
    max_train_samples: int | None = Field(None, ge=1)
    max_test_samples: int | None = Field(None, ge=1)
    #: preference: tokens the base model may write for a rejected answer
    rejected_max_tokens: int = Field(256, ge=8)
    #: preference: 0 is greedy
    rejected_temperature: float = Field(0.0, ge=0.0, le=2.0)
    #: preference: Jaccard similarity (word 3-shingles) of chosen and rejected above which the pair is dropped
    near_identical_threshold: float = Field(0.8, gt=0.0, le=1.0)
    #: requests in flight at once to the LLM (a local adapter batches concurrent requests)
    llm_concurrency: int = Field(8, ge=1, le=256)

    @model_validator(mode="after")
    def _sizes(self) -> DatasetGenerationConfig:
        if self.min_answer_tokens >= self.max_answer_tokens:
            raise ValueError(
                f"min_answer_tokens ({self.min_answer_tokens}) must be below max_answer_tokens "
                f"({self.max_answer_tokens})"
            )
        return self

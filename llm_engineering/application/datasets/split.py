"""Train/test split by source document, never by sample; seeded and stratified by author."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol, TypeVar

from loguru import logger


class _Sourced(Protocol):
    source_document_id: str
    author_full_name: str


S = TypeVar("S", bound=_Sourced)


def held_out_documents(samples: Sequence[_Sourced], test_size: float, seed: int) -> set[str]:
    """The source documents held out for testing: `test_size` of each author's documents.

    Each author with at least two documents gives at least one to the test split and keeps at
    least one for training; an author with a single document trains on it. The choice depends
    only on the documents and the seed, not on the order the samples come in.
    """
    documents: dict[str, set[str]] = defaultdict(set)
    for sample in samples:
        documents[sample.author_full_name].add(sample.source_document_id)
    held_out: set[str] = set()
    for author in sorted(documents):
        ids = sorted(documents[author])
        random.Random(f"{seed}:{author}").shuffle(ids)
        n_test = round(test_size * len(ids)) if test_size > 0 else 0
        if test_size > 0 and len(ids) >= 2:
            n_test = min(max(n_test, 1), len(ids) - 1)
        elif len(ids) < 2 and test_size > 0:
            logger.warning("{} has a single document: all of it goes to the train split", author)
            n_test = 0
        held_out.update(ids[:n_test])
    return held_out


def split_by_document(samples: Sequence[S], test_size: float, seed: int) -> tuple[list[S], list[S]]:
    """(train, test), each in the given order; all samples of a document land on the same side."""
    held_out = held_out_documents(samples, test_size, seed)
    train = [s for s in samples if s.source_document_id not in held_out]
    test = [s for s in samples if s.source_document_id in held_out]
    return train, test


def cap(samples: Sequence[S], limit: int | None, seed: int) -> list[S]:
    """At most `limit` samples, a seeded pick that keeps the given order; all when `limit` is None."""
    if limit is None or len(samples) <= limit:
        return list(samples)
    chosen = set(random.Random(seed).sample(range(len(samples)), limit))
    return [s for i, s in enumerate(samples) if i in chosen]

"""Exact nearest-neighbour search: the baseline every approximate index is judged against."""

from __future__ import annotations

import heapq
import math


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two vectors; 0.0 when either is all zeros."""
    if len(a) != len(b):
        raise ValueError(f"vectors differ in length: {len(a)} != {len(b)}")
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class Index:
    """Keeps (key, vector) pairs and scans all of them on every query."""

    def __init__(self) -> None:
        self._items: dict[str, list[float]] = {}

    def add(self, key: str, vector: list[float]) -> None:
        self._items[key] = list(vector)

    def __len__(self) -> int:
        return len(self._items)

    def search(self, query: list[float], k: int = 5) -> list[tuple[str, float]]:
        """The `k` most similar keys, best first."""
        scored = ((cosine(query, vector), key) for key, vector in self._items.items())
        return [(key, score) for score, key in heapq.nlargest(k, scored)]

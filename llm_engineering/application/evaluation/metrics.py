"""The evaluation's numbers, as plain functions over token losses, texts and embeddings."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def perplexity(nll_and_tokens: Sequence[tuple[float, int]]) -> float:
    """exp(total answer NLL / total answer tokens): a token-weighted perplexity over all answers."""
    tokens = sum(count for _, count in nll_and_tokens)
    if tokens == 0:
        raise ValueError("no answer tokens to score")
    return math.exp(sum(nll for nll, _ in nll_and_tokens) / tokens)


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.clip(norms, 1e-12, None)


def style_similarity(generated: np.ndarray, references: np.ndarray) -> float:
    """Mean cosine between each generated answer and the person's own answer to that instruction."""
    if len(generated) != len(references) or len(generated) == 0:
        raise ValueError("need one reference per generated answer, and at least one")
    return float(np.mean(np.sum(_normalise(generated) * _normalise(references), axis=1)))


def author_centroids(embeddings: np.ndarray, authors: Sequence[str]) -> dict[str, np.ndarray]:
    """Each author's mean (normalised) answer embedding."""
    normalised = _normalise(embeddings)
    names = sorted(set(authors))
    labels = np.asarray(authors)
    return {name: _normalise(normalised[labels == name].mean(axis=0, keepdims=True))[0] for name in names}


def attribution_accuracy(
    generated: np.ndarray, authors: Sequence[str], centroids: dict[str, np.ndarray]
) -> float | None:
    """Share of answers closer to their own author's centroid than to any other author's.

    None with fewer than two authors: attribution means nothing then.
    """
    if len(centroids) < 2 or len(generated) == 0:
        return None
    names = list(centroids)
    scores = _normalise(generated) @ np.stack([centroids[name] for name in names]).T
    predicted = [names[i] for i in np.argmax(scores, axis=1)]
    return float(np.mean([p == a for p, a in zip(predicted, authors, strict=True)]))


def rouge_l(generated: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F1 of each generated answer against the person's answer (rouge-score)."""
    from rouge_score import rouge_scorer

    if len(generated) != len(references) or not generated:
        raise ValueError("need one reference per generated answer, and at least one")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(
        np.mean(
            [
                scorer.score(ref, gen)["rougeL"].fmeasure
                for gen, ref in zip(generated, references, strict=True)
            ]
        )
    )

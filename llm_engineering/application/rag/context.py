"""From ranked chunks to numbered sources that fit a token budget.

Chunks that repeat one already kept (same text, or nearly: crossposts, re-imports) are dropped.
The rest are taken best first while their tokens fit; a new document counts against the source
limit. Each document's chunks then become one source, in document order, with the overlap
between consecutive chunks (the chunker's overlap) written once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from llm_engineering.domain.features import RetrievalHit
from llm_engineering.domain.rag import Source

#: shortest shared text that counts as the chunker's overlap between consecutive chunks
MIN_OVERLAP_CHARS = 16
GAP = "\n[…]\n"


def _squash(text: str) -> str:
    return " ".join(text.split())


def drop_duplicates(hits: Sequence[RetrievalHit], near_ratio: float = 95.0) -> list[RetrievalHit]:
    """The hits minus repeats of one ranked higher: same chunk, same text, or text nearly the same."""
    kept: list[RetrievalHit] = []
    seen_ids: set[str] = set()
    seen_texts: list[str] = []
    for hit in hits:
        text = _squash(hit.content)
        if str(hit.chunk_id) in seen_ids or text in seen_texts:
            continue
        if near_ratio < 100 and any(fuzz.ratio(text, other, score_cutoff=near_ratio) for other in seen_texts):
            continue
        seen_ids.add(str(hit.chunk_id))
        seen_texts.append(text)
        kept.append(hit)
    return kept


def merge_overlapping(first: str, second: str) -> str | None:
    """`first` + `second` with the text they share (end of one, start of the other) written once."""
    longest = min(len(first), len(second))
    for size in range(longest, MIN_OVERLAP_CHARS - 1, -1):
        if first.endswith(second[:size]):
            return first + second[size:]
    stripped_first, stripped_second = first.rstrip(), second.lstrip()
    if stripped_first != first or stripped_second != second:  # overlap that differs in whitespace only
        for size in range(min(len(stripped_first), len(stripped_second)), MIN_OVERLAP_CHARS - 1, -1):
            if stripped_first.endswith(stripped_second[:size]):
                return stripped_first + stripped_second[size:]
    return None


def join_chunks(hits: Sequence[RetrievalHit]) -> str:
    """One document's chunks, in document order; consecutive ones merged, gaps marked."""
    ordered = sorted(hits, key=lambda h: h.chunk_index)
    text = ordered[0].content
    previous = ordered[0].chunk_index
    for hit in ordered[1:]:
        merged = merge_overlapping(text, hit.content) if hit.chunk_index == previous + 1 else None
        if merged is None:
            separator = "\n" if hit.chunk_index == previous + 1 else GAP
            merged = text.rstrip() + separator + hit.content.lstrip()
        text, previous = merged, hit.chunk_index
    return text


@dataclass
class _Group:
    hits: list[RetrievalHit] = field(default_factory=list)


def fit_sources(
    hits: Sequence[RetrievalHit],
    *,
    token_cost: Callable[[str], int],
    budget: int,
    max_sources: int,
    titles: Callable[[str], str | None] = lambda _id: None,
    near_duplicate_ratio: float = 95.0,
) -> list[Source]:
    """Numbered sources (best first) whose text fits `budget` tokens, as `token_cost` counts them."""
    groups: dict[str, _Group] = {}
    used = 0
    for hit in drop_duplicates(hits, near_duplicate_ratio):
        doc = str(hit.document_id)
        if doc not in groups and len(groups) >= max_sources:
            continue
        header = 0 if doc in groups else token_cost(source_header(0, _title(hit, titles), hit))
        cost = header + token_cost(hit.content)
        if used + cost > budget:
            continue  # a shorter chunk further down may still fit
        used += cost
        groups.setdefault(doc, _Group()).hits.append(hit)
    sources = []
    for number, group in enumerate(groups.values(), 1):
        best = group.hits[0]
        sources.append(
            Source(
                number=number,
                document_id=best.document_id,
                link=best.link,
                title=_title(best, titles),
                author_full_name=best.author_full_name,
                category=best.category,
                content=join_chunks(group.hits),
                chunk_indices=sorted(h.chunk_index for h in group.hits),
                score=max(h.score for h in group.hits),
            )
        )
    return sources


def _title(hit: RetrievalHit, titles: Callable[[str], str | None]) -> str:
    title = titles(str(hit.document_id))
    if title and title.strip():
        return title.strip()
    first_line = next((line.strip(" #*") for line in hit.content.splitlines() if line.strip()), "")
    if first_line:
        return first_line if len(first_line) <= 80 else first_line[:79].rstrip() + "…"
    return hit.link or f"{hit.category.value} by {hit.author_full_name}"


def source_header(number: int, title: str, hit: RetrievalHit | Source) -> str:
    """Only the number goes into the prompt: small models copy any title/author/link header verbatim
    instead of answering (measured with SmolLM2-135M); the response lists each source's details."""
    return f"[{number}]"


def render_sources(sources: Sequence[Source]) -> str:
    return "\n\n".join(f"{source_header(s.number, s.title, s)} {s.content.strip()}" for s in sources)

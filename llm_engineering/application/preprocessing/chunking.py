"""Token-aware, structure-first chunking against the embedding model's own tokenizer.

Every chunk fits the embedder whole: `len(tokenizer(chunk)["input_ids"]) <= max_tokens`, special
tokens included, so nothing is silently truncated at embedding time. A document is tokenized
once (with character offsets); cut points are chosen on those offsets, preferring, in order:
section/paragraph breaks and code-block edges, line breaks, sentence ends, word gaps, and only
as a last resort token boundaries (a single line longer than a chunk). A fenced code block that
fits a chunk is never cut; a longer one is cut between lines. Chunks overlap by up to
`overlap_tokens`, starting the overlap at a line or sentence boundary where possible, and never
across a heading (a chunk that starts at a heading needs no context from the previous section).

Spans are exact: `chunk.content == doc.content[chunk.start_char:chunk.end_char]` and the spans
together cover the whole cleaned text.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger

from llm_engineering.application.preprocessing.cleaning import EmptyDocumentError
from llm_engineering.domain.features import Chunk, CleanedDocument
from llm_engineering.domain.types import DataCategory

if TYPE_CHECKING:
    from llm_engineering.application.ports import Tokenizer

#: a tokenizer's model_max_length above this is a "no limit" sentinel, not a real limit
_NO_LIMIT = 1_000_000


@dataclass(frozen=True)
class ChunkingConfig:
    """How big chunks are. `max_tokens` counts the tokenizer's special tokens ([CLS], [SEP])."""

    max_tokens: int = 256
    overlap_tokens: int = 32
    #: a structural break (paragraph, line) wins over a finer one once the chunk is this full
    min_fill: float = 0.5
    #: give up (a tokenizer whose counts never match its offsets) after this many re-plans
    max_replans: int = 6

    def __post_init__(self) -> None:
        if self.max_tokens < 8:
            raise ValueError(f"max_tokens must be >= 8, got {self.max_tokens}")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ValueError(
                f"overlap_tokens must be >= 0 and < max_tokens / 2 ({self.max_tokens // 2}), "
                f"got {self.overlap_tokens}: a chunk must add more new text than it repeats"
            )
        if not 0.0 < self.min_fill <= 1.0:
            raise ValueError(f"min_fill must be in (0, 1], got {self.min_fill}")


def default_chunking_configs(max_tokens: int, overlap_tokens: int) -> dict[DataCategory, ChunkingConfig]:
    """Per-category sizes: prose overlaps fully; code overlaps less (a repeated line says little)."""
    return {
        DataCategory.ARTICLES: ChunkingConfig(max_tokens=max_tokens, overlap_tokens=overlap_tokens),
        DataCategory.POSTS: ChunkingConfig(max_tokens=max_tokens, overlap_tokens=overlap_tokens),
        DataCategory.REPOSITORIES: ChunkingConfig(max_tokens=max_tokens, overlap_tokens=overlap_tokens // 2),
    }


# --- cut points -----------------------------------------------------------------------------

SECTION, LINE, SENTENCE, WORD, TOKEN = 4, 3, 2, 1, 0

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*$", re.M)
_HEADING_LINE = re.compile(r"^#{1,6}[ \t]+\S[^\n]*$", re.M)
_PARAGRAPH_GAP = re.compile(r"\n[ \t]*\n\s*")
_LINE_START = re.compile(r"\n(?=[^\n])")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+(?=\S)|(?<=[a-z0-9][.!?])(?=[A-Z])")
_WORD_GAP = re.compile(r"\s+(?=\S)")


def code_block_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each fenced code block, fences included; an unclosed fence runs to the end."""
    spans: list[tuple[int, int]] = []
    position = 0
    while True:
        opening = _FENCE.search(text, position)
        if opening is None:
            return spans
        marker = opening.group(1)
        closing = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$", re.M)
        match = closing.search(text, opening.end() + 1)
        end = match.end() if match else len(text)
        spans.append((opening.start(), end))
        position = end + 1 if match else len(text)
        if position >= len(text):
            return spans


class _CutPoints:
    """Sorted cut positions per level; a position is where the next chunk may start."""

    def __init__(self, text: str, token_starts: list[int], budget: int) -> None:
        self.token_starts = token_starts
        blocks = code_block_spans(text)
        inside = _Intervals([(s + 1, e) for s, e in blocks])  # strictly inside a code block
        fits = {(s, e) for s, e in blocks if self.tokens(s, e) <= budget}
        sealed = _Intervals([(s + 1, e) for s, e in fits])  # never cut inside a block that fits
        heading_ends = {m.end() for m in _HEADING_LINE.finditer(text) if not inside.contains(m.start())}
        self.heading_starts = {
            m.start() for m in _HEADING_LINE.finditer(text) if not inside.contains(m.start())
        }

        def after_heading(gap: re.Match[str]) -> bool:
            return gap.start() in heading_ends

        levels: dict[int, set[int]] = {level: set() for level in (SECTION, LINE, SENTENCE, WORD, TOKEN)}
        for gap in _PARAGRAPH_GAP.finditer(text):
            if not inside.contains(gap.start()) and not after_heading(gap):
                levels[SECTION].add(gap.end())
        for s, e in blocks:
            levels[SECTION].add(s)
            tail = re.compile(r"\s*").match(text, e)
            levels[SECTION].add(tail.end() if tail else e)
        levels[SECTION].update(self.heading_starts)
        for line in _LINE_START.finditer(text):
            if line.start() not in heading_ends and not sealed.contains(line.end()):
                levels[LINE].add(line.end())
        for pattern, level in ((_SENTENCE_END, SENTENCE), (_WORD_GAP, WORD)):
            for match in pattern.finditer(text):
                if not inside.contains(match.end()):
                    levels[level].add(match.end())
        long_code_lines = self._long_code_lines(text, blocks, fits, budget)
        for start in token_starts:
            if not inside.contains(start) or long_code_lines.contains(start):
                levels[TOKEN].add(start)
        self.levels = {
            level: sorted(p for p in positions if 0 < p < len(text)) for level, positions in levels.items()
        }

    def _long_code_lines(
        self, text: str, blocks: list[tuple[int, int]], fits: set[tuple[int, int]], budget: int
    ) -> _Intervals:
        """Lines of non-fitting code blocks too long for one chunk: the only code cut mid-line."""
        spans: list[tuple[int, int]] = []
        for s, e in blocks:
            if (s, e) in fits:
                continue
            for line in re.finditer(r"[^\n]+", text[s:e]):
                if self.tokens(s + line.start(), s + line.end()) > budget:
                    spans.append((s + line.start() + 1, s + line.end()))
        return _Intervals(spans)

    def tokens(self, start: int, end: int) -> int:
        """Tokens that begin in [start, end)."""
        return bisect_left(self.token_starts, end) - bisect_left(self.token_starts, start)

    def furthest(self, level: int, low: int, high: int) -> int | None:
        """Furthest cut of `level` or a coarser one in (low, high]."""
        best = None
        for lvl in range(level, SECTION + 1):
            positions = self.levels[lvl]
            i = bisect_right(positions, high) - 1
            if i >= 0 and positions[i] > low and (best is None or positions[i] > best):
                best = positions[i]
        return best

    def earliest(self, level: int, low: int, high: int) -> int | None:
        """Earliest cut of `level` or a coarser one in [low, high)."""
        best = None
        for lvl in range(level, SECTION + 1):
            positions = self.levels[lvl]
            i = bisect_left(positions, low)
            if i < len(positions) and positions[i] < high and (best is None or positions[i] < best):
                best = positions[i]
        return best


class _Intervals:
    """Sorted, disjoint half-open intervals with a fast membership test."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        spans = sorted(span for span in spans if span[0] < span[1])
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]

    def contains(self, position: int) -> bool:
        i = bisect_right(self.starts, position) - 1
        return i >= 0 and position < self.ends[i]


# --- the chunker ----------------------------------------------------------------------------


class TokenChunker:
    """The `Chunker` port: splits cleaned documents into chunks that the embedding model sees whole."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        config: ChunkingConfig | Mapping[DataCategory, ChunkingConfig],
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise TypeError(
                f"{type(tokenizer).__name__} is not a fast (Rust) tokenizer: "
                "chunking needs its character offsets"
            )
        self.tokenizer = tokenizer
        self.specials = tokenizer.num_special_tokens_to_add(pair=False)
        configs = config if isinstance(config, Mapping) else dict.fromkeys(DataCategory, config)
        limit = int(getattr(tokenizer, "model_max_length", _NO_LIMIT) or _NO_LIMIT)
        for category, cfg in configs.items():
            if limit < _NO_LIMIT and cfg.max_tokens > limit:
                raise ValueError(
                    f"{category}: max_tokens {cfg.max_tokens} exceeds the tokenizer's limit {limit}: "
                    "chunks would be truncated when embedded"
                )
            if cfg.max_tokens - self.specials <= 2 * cfg.overlap_tokens:
                raise ValueError(
                    f"{category}: max_tokens {cfg.max_tokens} leaves no room for new text after "
                    f"{self.specials} special tokens and an overlap of {cfg.overlap_tokens}"
                )
        self.configs: dict[DataCategory, ChunkingConfig] = dict(configs)

    def config_for(self, category: DataCategory) -> ChunkingConfig:
        try:
            return self.configs[category]
        except KeyError:
            raise KeyError(f"no chunking config for category {category!r}") from None

    def chunk(self, doc: CleanedDocument) -> list[Chunk]:
        """Chunks of `doc` in order; raises EmptyDocumentError when it has no text."""
        text = doc.content
        if not text.strip():
            raise EmptyDocumentError(
                f"document {doc.id} ({doc.link or doc.category}) is empty: nothing to chunk"
            )
        config = self.config_for(doc.category)
        spans, counts = self.split(text, config)
        chunks: list[Chunk] = []
        for index, ((start, end), count) in enumerate(zip(spans, counts, strict=True)):
            content = text[start:end]
            digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
            chunks.append(
                Chunk(
                    id=Chunk.make_id(doc.id, index, digest),
                    document_id=doc.id,
                    chunk_index=index,
                    content=content,
                    start_char=start,
                    end_char=end,
                    token_count=count,
                    **doc.provenance(),
                )
            )
        return chunks

    def split(self, text: str, config: ChunkingConfig) -> tuple[list[tuple[int, int]], list[int]]:
        """Spans covering `text` and their real token counts (special tokens included)."""
        encoding = self.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False
        )
        token_starts = [start for start, end in encoding["offset_mapping"] if end > start]
        budget = config.max_tokens - self.specials
        for _ in range(config.max_replans):
            points = _CutPoints(text, token_starts, budget)
            spans = _plan(text, points, budget, config)
            counts = self.count_tokens([text[s:e] for s, e in spans])
            excess = max(count - config.max_tokens for count in counts)
            if excess <= 0:
                return spans, counts
            # a cut mid-word can tokenize differently alone: plan again with a smaller budget
            logger.debug("chunk over the limit by {} token(s): re-planning with a smaller budget", excess)
            budget -= excess
        raise RuntimeError(
            f"could not fit chunks within {config.max_tokens} tokens after {config.max_replans} tries: "
            f"the tokenizer's offsets disagree with its own counts"
        )

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Real token counts, special tokens included (what the embedder will see)."""
        if not texts:
            return []
        encoded = self.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]


def _plan(text: str, points: _CutPoints, budget: int, config: ChunkingConfig) -> list[tuple[int, int]]:
    """Greedy packing: each chunk ends at the best cut within budget; the next overlaps its tail."""
    spans: list[tuple[int, int]] = []
    start, covered = 0, 0  # `covered`: end of the previous chunk (the next one must pass it)
    while covered < len(text):
        end = _best_end(text, points, start, covered, budget, config)
        if end is None:
            if start == covered:
                raise RuntimeError(f"no cut point after character {start}: this is a bug")
            start = covered  # the overlap left no room to progress: drop it for this chunk
            continue
        spans.append((start, end))
        covered = end
        if end >= len(text):
            break
        start = _overlap_start(points, start, end, config.overlap_tokens)
    return spans


def _best_end(
    text: str, points: _CutPoints, start: int, covered: int, budget: int, config: ChunkingConfig
) -> int | None:
    first = bisect_left(points.token_starts, start)
    if len(points.token_starts) - first <= budget:
        return len(text)
    limit = points.token_starts[first + budget]  # cutting here keeps exactly `budget` tokens
    low = max(start, covered)
    enough = config.min_fill * budget
    for level in (SECTION, LINE, SENTENCE, WORD, TOKEN):
        cut = points.furthest(level, low, limit)
        if cut is not None and points.tokens(start, cut) >= enough:
            return cut
    return points.furthest(TOKEN, low, limit)  # a short chunk (a sealed code block follows)


def _overlap_start(points: _CutPoints, start: int, end: int, overlap: int) -> int:
    """Where the next chunk starts: inside this chunk's tail, at the most structural cut."""
    if overlap <= 0 or end in points.heading_starts:
        return end
    starts = points.token_starts
    last = bisect_left(starts, end)
    first = max(bisect_left(starts, start) + 1, last - overlap)
    if first >= last:
        return end
    low = starts[first]
    for level in (LINE, SENTENCE, WORD, TOKEN):
        cut = points.earliest(level, low, end)
        if cut is not None and cut > start and points.tokens(cut, end) >= max(1, overlap // 4):
            return cut
    return end

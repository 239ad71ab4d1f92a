"""Cleaned documents -> passages: the person's own text, cut along its structure, sized to answer.

A document is read as blocks: headings, paragraphs and fenced code blocks (a block is never cut
while it fits). Blocks are packed in order into passages of at most `max_tokens` tokens of the
base model's tokenizer. A heading starts a new passage once the current one is long enough; a
short section is merged into the next rather than lost. The headings above a passage travel with
it (they tell the instruction writer what it is about) and are not part of its text. A paragraph
longer than a passage is cut between sentences (then words); a code block between lines, each
piece fenced again, so code is never cut mid-line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from llm_engineering.application.ports import Tokenizer
from llm_engineering.application.preprocessing.chunking import code_block_spans
from llm_engineering.domain.datasets import Passage
from llm_engineering.domain.features import CleanedDocument

_HEADING = re.compile(r"^(#{1,6})[ \t]+(\S.*?)[ \t#]*$")
_PARAGRAPH_GAP = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=\S)")
#: tokens a paragraph break costs when two blocks are joined
_JOIN_TOKENS = 1


def count_tokens(tokenizer: Tokenizer, texts: Sequence[str]) -> list[int]:
    """Tokens of each text, without special tokens (what the text adds to a chat turn)."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)
    return [len(ids) for ids in encoded["input_ids"]]


@dataclass
class _Block:
    kind: str  # "heading", "text" or "code"
    text: str
    level: int = 0
    tokens: int = 0


def _blocks(content: str) -> list[_Block]:
    """Headings, paragraphs and fenced code blocks, in order; whitespace-only gaps dropped."""
    blocks: list[_Block] = []
    position = 0
    for start, end in [*code_block_spans(content), (len(content), len(content))]:
        for paragraph in _PARAGRAPH_GAP.split(content[position:start]):
            blocks.extend(_prose_blocks(paragraph))
        if end > start:
            blocks.append(_Block("code", content[start:end].strip("\n")))
        position = end
    return blocks


def _prose_blocks(paragraph: str) -> list[_Block]:
    """A paragraph, with any heading lines in it split off as heading blocks."""
    out: list[_Block] = []
    lines: list[str] = []
    for line in paragraph.split("\n"):
        match = _HEADING.match(line)
        if match:
            if any(part.strip() for part in lines):
                out.append(_Block("text", "\n".join(lines).strip("\n")))
            lines = []
            out.append(_Block("heading", match.group(2).strip(), level=len(match.group(1))))
        else:
            lines.append(line)
    if any(part.strip() for part in lines):
        out.append(_Block("text", "\n".join(lines).strip("\n")))
    return out


def heading_text(heading: str) -> str:
    """A heading as words: markdown emphasis and leading emoji or numbering removed."""
    text = re.sub(r"[*_`]+", "", heading)
    text = re.sub(r"^[^\w(\"'“]+", "", text)  # emoji, bullets, "1." style numbering keep the words
    text = re.sub(r"^\d+(\.\d+)*[.)]?\s+", "", text)
    return " ".join(text.split()).rstrip(":.")


class PassageSplitter:
    """Splits cleaned documents into passages of at most `max_tokens` (the answer budget)."""

    def __init__(self, tokenizer: Tokenizer, *, max_tokens: int = 400, min_tokens: int = 32) -> None:
        if max_tokens < 16:
            raise ValueError(f"max_tokens must be >= 16, got {max_tokens}")
        if not 0 < min_tokens < max_tokens:
            raise ValueError(f"min_tokens must be in (0, max_tokens={max_tokens}), got {min_tokens}")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.min_tokens = min_tokens

    def split(self, doc: CleanedDocument) -> list[Passage]:
        blocks = _blocks(doc.content)
        if blocks and blocks[0].kind == "heading" and blocks[0].level == 1 and doc.title:
            blocks = blocks[1:]  # the document's title: known already, never part of an answer
        for block, tokens in zip(blocks, count_tokens(self.tokenizer, [b.text for b in blocks]), strict=True):
            block.tokens = tokens
        budget = self.max_tokens
        for _ in range(4):  # joined text can tokenize a little longer than its parts: re-plan smaller
            groups = self._pack(blocks, budget)
            texts = ["\n\n".join(b.text for b in group) for _, group in groups]
            counts = count_tokens(self.tokenizer, texts)
            excess = max(counts, default=0) - self.max_tokens
            if excess <= 0:
                break
            budget -= max(excess, budget // 50)
        return [
            Passage(
                source_document_id=str(doc.id),
                author_full_name=doc.author_full_name,
                category=doc.category,
                platform=doc.platform,
                title=doc.title,
                headings=headings,
                text=text,
                token_count=count,
                index=index,
            )
            for index, ((headings, _), text, count) in enumerate(zip(groups, texts, counts, strict=True))
        ]

    def _pack(self, blocks: list[_Block], budget: int) -> list[tuple[tuple[str, ...], list[_Block]]]:
        """Greedy packing of blocks into (headings, blocks) groups within the token budget."""
        groups: list[tuple[tuple[str, ...], list[_Block]]] = []
        stack: list[tuple[int, str]] = []  # (level, heading) above the current position
        current: list[_Block] = []
        current_headings: tuple[str, ...] = ()
        used = 0

        def flush() -> None:
            nonlocal current, used
            if any(b.kind != "heading" for b in current):
                groups.append((current_headings, current))
            current, used = [], 0

        for block in blocks:
            if block.kind == "heading":
                if used >= self.min_tokens:
                    flush()
                while stack and stack[-1][0] >= block.level:
                    stack.pop()
                stack.append((block.level, heading_text(block.text)))
                if not current:
                    current_headings = tuple(h for _, h in stack if h)
                    continue
                block = _Block("heading", "#" * block.level + " " + block.text, block.level, block.tokens + 1)
            cost = block.tokens + (_JOIN_TOKENS if current else 0)
            if used + cost <= budget:
                current.append(block)
                used += cost
                continue
            flush()
            current_headings = tuple(h for _, h in stack if h)
            pieces = [block] if block.tokens <= budget else self._cut(block, budget)
            for piece in pieces[:-1]:
                groups.append((current_headings, [piece]))
            current, used = [pieces[-1]], pieces[-1].tokens
        flush()
        return groups

    def _cut(self, block: _Block, budget: int) -> list[_Block]:
        """A block longer than a passage, in pieces that fit: code between lines, prose between sentences."""
        if block.kind == "code":
            lines = block.text.split("\n")
            opening, body = lines[0], lines[1:]
            closing = body.pop() if body and body[-1].strip().startswith(opening.strip()[:3]) else ""
            closing = closing or opening.strip()[:3]
            units = [line + "\n" for line in body]
            return [
                _Block("code", f"{opening}\n{piece.rstrip(chr(10))}\n{closing}", tokens=tokens)
                for piece, tokens in self._fill(units, budget - self._tokens(f"{opening}\n\n{closing}"))
            ]
        units = [s for s in _SENTENCE_END.split(block.text) if s.strip()]
        units = [u + " " for u in units]
        pieces = self._fill(units, budget)
        return [_Block("text", piece.strip(), tokens=tokens) for piece, tokens in pieces]

    def _fill(self, units: list[str], budget: int) -> list[tuple[str, int]]:
        """Consecutive units joined into pieces of at most `budget` tokens; long units by words."""
        counts = count_tokens(self.tokenizer, units)
        expanded: list[tuple[str, int]] = []
        for unit, count in zip(units, counts, strict=True):
            if count <= budget:
                expanded.append((unit, count))
                continue
            words = re.findall(r"\S+\s*", unit)  # a sentence or line longer than a passage: by words
            expanded.extend(zip(words, count_tokens(self.tokenizer, words), strict=True))
        pieces: list[tuple[str, int]] = []
        text, used = "", 0
        for unit, count in expanded:
            if text and used + count > budget:
                pieces.append((text, used))
                text, used = "", 0
            text += unit
            used += count
        if text.strip():
            pieces.append((text, used))
        return pieces

    def _tokens(self, text: str) -> int:
        return count_tokens(self.tokenizer, [text])[0]

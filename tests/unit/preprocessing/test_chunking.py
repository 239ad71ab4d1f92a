"""Chunking properties, checked with a tiny real tokenizer (max 64 tokens)."""

from __future__ import annotations

import hashlib
import itertools
import re
import time

import pytest

from llm_engineering.application.preprocessing.chunking import (
    ChunkingConfig,
    TokenChunker,
    code_block_spans,
    default_chunking_configs,
)
from llm_engineering.application.preprocessing.cleaning import EmptyDocumentError
from llm_engineering.domain.features import Chunk
from llm_engineering.domain.types import DataCategory

MAX = 64

SENTENCES = [
    "Chunking splits cleaned documents into pieces that fit the embedding model.",
    "The quick brown fox jumps over the lazy dog.",
    "Every character of a document lands in at least one chunk.",
    "Retrieval augmented generation needs good chunks, headings and paragraphs.",
]


def prose(sentences: int, start: int = 0) -> str:
    return " ".join(SENTENCES[(start + i) % len(SENTENCES)] for i in range(sentences))


def assert_covers(chunks: list[Chunk], text: str) -> None:
    """The union of spans is the whole text, spans are exact and in order."""
    assert chunks, "no chunks"
    assert chunks[0].start_char == 0
    assert chunks[-1].end_char == len(text)
    for previous, current in itertools.pairwise(chunks):
        assert previous.start_char < current.start_char, "chunks go backwards"
        assert current.start_char <= previous.end_char, f"gap {previous.end_char}..{current.start_char}"
    for chunk in chunks:
        assert chunk.content == text[chunk.start_char : chunk.end_char]
    covered = [False] * len(text)
    for chunk in chunks:
        covered[chunk.start_char : chunk.end_char] = [True] * (chunk.end_char - chunk.start_char)
    assert all(covered)


def assert_within_limit(chunks: list[Chunk], tokenizer, limit: int = MAX) -> None:
    for chunk in chunks:
        real = len(tokenizer(chunk.content)["input_ids"])
        assert real == chunk.token_count
        assert real <= limit, f"chunk {chunk.chunk_index} has {real} tokens > {limit}"


@pytest.fixture
def chunker(tiny_tokenizer) -> TokenChunker:
    return TokenChunker(tiny_tokenizer, ChunkingConfig(max_tokens=MAX, overlap_tokens=12))


def test_long_prose_is_covered_within_the_limit_with_overlap(chunker, tiny_tokenizer, make_doc):
    text = "\n\n".join(prose(5, start=i) for i in range(8))
    chunks = chunker.chunk(make_doc(text))

    assert len(chunks) > 3
    assert_covers(chunks, text)
    assert_within_limit(chunks, tiny_tokenizer)
    overlaps = [cur.start_char < prev.end_char for prev, cur in itertools.pairwise(chunks)]
    assert all(overlaps), "consecutive prose chunks should share their boundary text"
    for prev, cur in itertools.pairwise(chunks):
        shared = text[cur.start_char : prev.end_char]
        assert len(tiny_tokenizer(shared, add_special_tokens=False)["input_ids"]) <= 12
        # the overlap starts at a sentence, line or paragraph start, not mid-word
        assert cur.start_char == 0 or text[cur.start_char - 1].isspace()


def test_paragraphs_that_fit_are_not_split(chunker, make_doc):
    paragraphs = [prose(1, start=i) for i in range(12)]  # each ~15 tokens
    text = "\n\n".join(paragraphs)
    chunks = chunker.chunk(make_doc(text))

    boundaries = {c.end_char for c in chunks[:-1]}
    paragraph_starts = {m.end() for m in re.finditer(r"\n\n", text)}
    assert boundaries <= paragraph_starts, "a chunk ended inside a paragraph although paragraphs fit"


def test_code_block_that_fits_stays_whole(chunker, tiny_tokenizer, make_doc):
    code = (
        "```python\nimport numpy as np\nvectors = np.zeros((3, 384))\n"
        "def embed(texts):\n    return model.encode(texts)\n```"
    )
    text = prose(6) + "\n\n" + code + "\n\n" + prose(6, start=2)
    chunks = chunker.chunk(make_doc(text))

    assert_covers(chunks, text)
    assert_within_limit(chunks, tiny_tokenizer)
    assert any(code in chunk.content for chunk in chunks), "the code block was cut although it fits"
    (block,) = code_block_spans(text)
    for chunk in chunks:
        for edge in (chunk.start_char, chunk.end_char):
            assert not block[0] < edge < block[1], "a chunk edge falls inside a code block that fits"


def test_long_code_block_is_split_between_lines(chunker, tiny_tokenizer, make_doc):
    lines = [f"vectors_{i} = np.zeros(({i}, 384), dtype=np.float32)" for i in range(40)]
    text = "Intro paragraph.\n\n```python\n" + "\n".join(lines) + "\n```\n\nOutro."
    chunks = chunker.chunk(make_doc(text, DataCategory.REPOSITORIES))

    assert len(chunks) > 2
    assert_covers(chunks, text)
    assert_within_limit(chunks, tiny_tokenizer)
    (block,) = code_block_spans(text)
    for chunk in chunks:
        for edge in (chunk.start_char, chunk.end_char):
            if block[0] < edge < block[1]:
                assert text[edge - 1] == "\n", (
                    f"code split mid-line at {edge}: {text[edge - 20 : edge + 20]!r}"
                )


def test_a_single_line_longer_than_a_chunk_is_split_by_tokens(chunker, tiny_tokenizer, make_doc):
    line = "x = [" + ", ".join(f"value_{i}" for i in range(200)) + "]"
    text = f"```\n{line}\n```"
    chunks = chunker.chunk(make_doc(text, DataCategory.REPOSITORIES))

    assert len(chunks) > 3
    assert_covers(chunks, text)
    assert_within_limit(chunks, tiny_tokenizer)


def test_no_overlap_into_a_new_section(chunker, make_doc):
    text = "# First\n\n" + prose(8) + "\n\n# Second\n\n" + prose(8, start=1)
    chunks = chunker.chunk(make_doc(text))

    second = text.index("# Second")
    assert any(c.start_char == second for c in chunks), "the second section should start its own chunk"
    (index,) = [c.chunk_index for c in chunks if c.start_char == second]
    assert chunks[index - 1].end_char == second, "the new section should not repeat the previous one's tail"


def test_ids_are_deterministic_and_depend_on_content(chunker, make_doc):
    text = "\n\n".join(prose(4, start=i) for i in range(4))
    first = chunker.chunk(make_doc(text))
    again = chunker.chunk(make_doc(text))
    changed = chunker.chunk(make_doc(text.replace("fox", "cat")))

    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    digest = hashlib.sha256(first[0].content.encode()).hexdigest()
    assert first[0].id == Chunk.make_id(first[0].document_id, 0, digest)
    assert {c.id for c in first} != {c.id for c in changed}
    assert [c.chunk_index for c in first] == list(range(len(first)))


def test_empty_document_raises(chunker, make_doc):
    with pytest.raises(EmptyDocumentError):
        chunker.chunk(make_doc("   \n\n  "))


def test_short_document_is_one_chunk(chunker, make_doc):
    chunks = chunker.chunk(make_doc("The quick brown fox."))
    assert [(c.start_char, c.end_char) for c in chunks] == [(0, len("The quick brown fox."))]


def test_per_category_configs(tiny_tokenizer, make_doc):
    configs = default_chunking_configs(MAX, 16)
    assert configs[DataCategory.REPOSITORIES].overlap_tokens < configs[DataCategory.ARTICLES].overlap_tokens
    chunker = TokenChunker(
        tiny_tokenizer, {DataCategory.ARTICLES: ChunkingConfig(max_tokens=32, overlap_tokens=4)}
    )
    chunks = chunker.chunk(make_doc(prose(10)))
    assert_within_limit(chunks, tiny_tokenizer, limit=32)
    with pytest.raises(KeyError, match="posts"):
        chunker.chunk(make_doc(prose(2), DataCategory.POSTS))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_tokens": 64, "overlap_tokens": 32}, "overlap_tokens"),
        ({"max_tokens": 64, "overlap_tokens": -1}, "overlap_tokens"),
        ({"max_tokens": 4, "overlap_tokens": 0}, "max_tokens"),
        ({"max_tokens": 64, "overlap_tokens": 8, "min_fill": 0}, "min_fill"),
    ],
)
def test_config_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ChunkingConfig(**kwargs)


def test_config_above_the_tokenizer_limit_is_refused(tiny_tokenizer):
    with pytest.raises(ValueError, match="truncated"):
        TokenChunker(tiny_tokenizer, ChunkingConfig(max_tokens=128, overlap_tokens=8))


def test_glued_sentences_and_unicode_are_covered(chunker, tiny_tokenizer, make_doc):
    text = ("Image by authorThe quick brown fox.Every character counts. 🦙 Émile’s café — ok? " * 40).strip()
    chunks = chunker.chunk(make_doc(text))
    assert_covers(chunks, text)
    assert_within_limit(chunks, tiny_tokenizer)


@pytest.mark.timeout(120)
def test_a_5mb_document_chunks_in_bounded_time(tiny_tokenizer, make_doc):
    block = "\n\n".join(
        [
            "## Section heading",
            prose(6),
            "```python\nimport numpy as np\nvectors = np.zeros((3, 384))\n```",
            "- a list item\n- another list item",
            prose(3, start=1) + " https://example.com/docs/page?id=42",
        ]
    )
    text = "\n\n".join([block] * (5_000_000 // len(block) + 1))
    assert len(text) >= 5_000_000
    chunker = TokenChunker(tiny_tokenizer, ChunkingConfig(max_tokens=MAX, overlap_tokens=8))

    started = time.perf_counter()
    chunks = chunker.chunk(make_doc(text))
    elapsed = time.perf_counter() - started

    assert chunks[0].start_char == 0 and chunks[-1].end_char == len(text)
    assert all(b.start_char <= a.end_char for a, b in itertools.pairwise(chunks))
    assert max(c.token_count for c in chunks) <= MAX
    assert elapsed < 60, f"chunking 5 MB took {elapsed:.1f} s"

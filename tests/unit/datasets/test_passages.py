"""Passage splitting: along the document's structure, within the token budget, verbatim."""

from __future__ import annotations

import re
from typing import Any

import pytest

from llm_engineering.application.datasets.passages import PassageSplitter, count_tokens, heading_text
from llm_engineering.domain.types import DataCategory
from tests.unit.datasets.conftest import make_document, paragraph


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def test_sections_become_passages_with_their_headings(tokenizer: Any) -> None:
    content = "\n\n".join(
        [
            "# Building a Twin",
            paragraph("intro", 3),
            "## 🔀 Why **retrieval** matters",
            paragraph("retrieval", 4),
            "### 1. The index",
            paragraph("index", 4),
            "## Training",
            paragraph("training", 4),
        ]
    )
    doc = make_document(content, title="Building a Twin")
    passages = PassageSplitter(tokenizer, max_tokens=120, min_tokens=20).split(doc)

    assert [p.headings for p in passages] == [
        (),
        ("Why retrieval matters",),
        ("Why retrieval matters", "The index"),
        ("Training",),
    ]
    assert [p.index for p in passages] == [0, 1, 2, 3]
    assert passages[0].text == paragraph("intro", 3)  # the title heading is not part of any answer
    for passage in passages:
        assert not passage.text.startswith("#"), "a heading that opens a passage is in `headings`"
        assert passage.text in content, "answers are the person's text, verbatim"
        assert passage.title == "Building a Twin" and passage.author_full_name == "Ada Sample"
        assert passage.token_count == count_tokens(tokenizer, [passage.text])[0] <= 120


def test_short_sections_merge_and_nothing_is_lost(tokenizer: Any) -> None:
    content = "\n\n".join(
        ["## Tiny", "One short line.", "## Next", paragraph("next", 2), "## Last", paragraph("last", 2)]
    )
    passages = PassageSplitter(tokenizer, max_tokens=400, min_tokens=30).split(make_document(content))
    assert [p.headings for p in passages] == [("Tiny",), ("Last",)]
    assert "One short line." in passages[0].text and "## Next" in passages[0].text
    joined = " ".join(p.text for p in passages)
    body = [w for w in _words(content) if w not in {"Tiny", "Last"}]  # headings that open a passage
    assert sorted(_words(joined)) == sorted(body)


def test_code_blocks_stay_whole_and_long_ones_split_between_lines(tokenizer: Any) -> None:
    small = "```python\ndef add(a, b):\n\n    return a + b\n```"
    lines = [f"    total_{i} = compute_value({i}, factor={i * 7})" for i in range(60)]
    big = "```python\ndef long_function():\n" + "\n".join(lines) + "\n```"
    content = "\n\n".join([paragraph("code", 2), small, paragraph("more", 2), big])
    passages = PassageSplitter(tokenizer, max_tokens=150, min_tokens=20).split(make_document(content))

    assert any(small in p.text for p in passages), "a code block that fits is never cut"
    pieces = [p.text for p in passages if "total_" in p.text]
    assert len(pieces) >= 3
    for piece in pieces:
        block = piece[piece.index("```python") :]
        assert block.startswith("```python\n") and block.endswith("\n```"), "each piece is fenced again"
        for line in block.splitlines()[1:-1]:
            assert line in big.splitlines(), f"code cut mid-line: {line!r}"
    assert all(p.token_count <= 150 for p in passages)
    rebuilt = [line for piece in pieces for line in piece.splitlines() if "total_" in line]
    assert rebuilt == lines, "every line of the long block, in order, exactly once"


def test_a_paragraph_longer_than_a_passage_is_cut_between_sentences(tokenizer: Any) -> None:
    text = paragraph("long", 30)
    passages = PassageSplitter(tokenizer, max_tokens=100, min_tokens=10).split(make_document(text))
    assert len(passages) > 3
    for passage in passages:
        assert passage.token_count <= 100
        assert passage.text.endswith("."), "cut after a sentence"
    assert " ".join(p.text for p in passages) == text


def test_repository_files_are_sections(tokenizer: Any) -> None:
    content = (
        "## src/app.py\n\n```python\nprint('hi')\n```\n\n## README.md\n\n```markdown\n# App\n\nRuns.\n```"
    )
    doc = make_document(content, title="app", category=DataCategory.REPOSITORIES, platform="github")
    passages = PassageSplitter(tokenizer, max_tokens=200, min_tokens=2).split(doc)
    assert [p.headings for p in passages] == [("src/app.py",), ("README.md",)]
    assert passages[1].text == "```markdown\n# App\n\nRuns.\n```", "a heading inside code is code"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("🔀 Introduction to MoEs", "Introduction to MoEs"), ("2. **Fine-tuning**:", "Fine-tuning")],
)
def test_heading_text(raw: str, clean: str) -> None:
    assert heading_text(raw) == clean


def test_bad_budgets_are_refused(tokenizer: Any) -> None:
    with pytest.raises(ValueError, match="min_tokens"):
        PassageSplitter(tokenizer, max_tokens=100, min_tokens=100)
    with pytest.raises(ValueError, match="max_tokens"):
        PassageSplitter(tokenizer, max_tokens=8)

"""Quality filters (each drop counted) and the train/test split by source document."""

from __future__ import annotations

from collections import Counter

import pytest

from llm_engineering.application.datasets import filters
from llm_engineering.application.datasets.split import cap, held_out_documents, split_by_document
from llm_engineering.domain.datasets import DatasetGenerationConfig, InstructSample, Passage
from llm_engineering.domain.types import DataCategory
from tests.unit.datasets.conftest import paragraph

CONFIG = DatasetGenerationConfig(min_answer_tokens=20, max_answer_tokens=200)


def _passage(
    text: str, tokens: int = 100, category: DataCategory = DataCategory.ARTICLES, i: int = 0
) -> Passage:
    return Passage(
        source_document_id=f"doc-{i}",
        author_full_name="Ada Sample",
        category=category,
        platform="medium",
        text=text,
        token_count=tokens,
        index=i,
    )


CODE = "```python\n" + "\n".join(f"value_{i} = compute({i})" for i in range(30)) + "\n```"
BOILERPLATE = "\n".join(
    [
        "Subscribe to my newsletter for more!",
        "Image by author",
        "[Follow me on Twitter](https://twitter.com/ada)",
        "https://ada.dev/blog",
        "Thanks for reading, and see you next week.",
        "Nice.",
    ]
)


def test_quality_filter_drops_and_counts_each_reason() -> None:
    good = _passage(paragraph("good"), i=0)
    given = [
        good,
        _passage(paragraph("short"), tokens=10, i=1),
        _passage(paragraph("long"), tokens=300, i=2),
        _passage(CODE, i=3),
        _passage(BOILERPLATE, i=4),
        _passage("Short words only here.", i=5),
    ]
    repo_code = _passage(CODE, category=DataCategory.REPOSITORIES, i=6)
    drops: Counter[str] = Counter()
    kept = filters.quality_filter([*given, repo_code], CONFIG, drops)
    assert kept == [good, repo_code], "code-only answers are kept for repositories only"
    assert drops == {"too_short": 1, "too_long": 1, "code_only": 1, "boilerplate": 2}


def test_code_with_explanation_is_kept() -> None:
    text = paragraph("why", 3) + "\n\n" + "```python\nprint(1)\n```"
    assert filters.quality_filter([_passage(text)], CONFIG, Counter())


def test_near_duplicates_are_dropped_distinct_texts_kept() -> None:
    base = paragraph("dedup", 8)
    edited = base.replace("The dedup", "The Dedup", 1) + " One more closing remark."
    other = paragraph("other", 8)
    passages = [_passage(base, i=0), _passage(other, i=1), _passage(edited, i=2), _passage(base, i=3)]
    drops: Counter[str] = Counter()
    kept = filters.deduplicate(passages, 0.8, drops)
    assert [p.index for p in kept] == [0, 1]
    assert drops == {"near_duplicate": 2}
    assert filters.jaccard(base, edited) > 0.8 > filters.jaccard(base, other)


def _samples(docs_per_author: dict[str, int], per_doc: int = 3) -> list[InstructSample]:
    return [
        InstructSample(
            instruction=f"q {author} {d} {k}",
            answer="a",
            source_document_id=f"{author}-doc-{d}",
            author_full_name=author,
            category=DataCategory.ARTICLES,
        )
        for author, n in docs_per_author.items()
        for d in range(n)
        for k in range(per_doc)
    ]


def test_split_is_by_document_seeded_and_stratified_by_author() -> None:
    samples = _samples({"Ada": 20, "Bob": 10, "Cy": 2, "Solo": 1})
    train, test = split_by_document(samples, test_size=0.2, seed=7)

    assert len(train) + len(test) == len(samples)
    train_docs = {s.source_document_id for s in train}
    test_docs = {s.source_document_id for s in test}
    assert not train_docs & test_docs, "a document's samples are all on one side"
    per_author = Counter(doc.split("-doc-")[0] for doc in test_docs)
    assert per_author == {"Ada": 4, "Bob": 2, "Cy": 1}, "each author gives test_size of its documents"
    assert "Solo-doc-0" in train_docs, "a single document trains"

    again = split_by_document(list(reversed(samples)), test_size=0.2, seed=7)[1]
    assert {s.source_document_id for s in again} == test_docs, "the split ignores sample order"
    other = held_out_documents(samples, test_size=0.2, seed=8)
    assert other != test_docs, "another seed, another split"


@pytest.mark.parametrize("limit", [None, 5])
def test_cap_is_a_seeded_ordered_pick(limit: int | None) -> None:
    samples = _samples({"Ada": 10})
    picked = cap(samples, limit, seed=1)
    assert len(picked) == (limit or len(samples))
    assert picked == [s for s in samples if s in picked], "order kept"
    assert cap(samples, limit, seed=1) == picked

from __future__ import annotations

from llm_engineering.application.rag.context import (
    GAP,
    drop_duplicates,
    fit_sources,
    join_chunks,
    merge_overlapping,
)
from llm_engineering.application.rag.prompt import build_messages, cited_numbers, mark_cited
from llm_engineering.domain.llm import ChatMessage
from tests.unit.rag.fakes import hit


def words(text: str) -> int:
    return len(text.split())


def test_merging_writes_the_shared_overlap_once() -> None:
    first = "Feature stores keep features fresh. The overlap sentence is shared by both chunks."
    second = "The overlap sentence is shared by both chunks. Then the next chunk goes on."
    assert merge_overlapping(first, second) == (
        "Feature stores keep features fresh. The overlap sentence is shared by both chunks."
        " Then the next chunk goes on."
    )
    assert merge_overlapping("no shared text here at all", "completely different words") is None


def test_a_documents_chunks_join_in_document_order_with_gaps_marked() -> None:
    a = hit("Part zero ends with a shared tail sentence.", chunk_index=0)
    b = hit("ends with a shared tail sentence. Part one.", chunk_index=1)
    c = hit("Part five, far away.", chunk_index=5)
    assert join_chunks([c, b, a]) == "Part zero ends with a shared tail sentence. Part one." + GAP + c.content


def test_duplicates_and_near_duplicates_are_dropped() -> None:
    text = "Retrieval augmented generation grounds answers in your own documents and their sources."
    hits = [
        hit(text, document="a", score=3),
        hit(text, document="crosspost", score=2),  # same text elsewhere
        hit(text.replace("grounds", "ground"), document="b", score=1.5),  # one letter off
        hit("Something else entirely about fine-tuning.", document="c", score=1),
    ]
    kept = drop_duplicates(hits)
    assert [h.content for h in kept] == [text, "Something else entirely about fine-tuning."]
    assert len(drop_duplicates(hits, near_ratio=100)) == 3


def test_sources_fit_the_budget_group_by_document_and_are_numbered() -> None:
    hits = [
        hit("alpha " * 10, document="a", chunk_index=0, score=0.9),
        hit("beta " * 10, document="b", chunk_index=3, score=0.8),
        hit("gamma " * 50, document="c", chunk_index=0, score=0.7),  # too big for what is left
        hit("delta " * 10, document="a", chunk_index=7, score=0.6),
        hit("epsilon " * 5, document="d", chunk_index=0, score=0.5),
    ]
    sources = fit_sources(hits, token_cost=words, budget=60, max_sources=5, titles=lambda _id: "T")
    assert [s.number for s in sources] == [1, 2, 3]
    assert [s.link for s in sources] == [
        "https://example.com/a",
        "https://example.com/b",
        "https://example.com/d",
    ]
    assert sources[0].chunk_indices == [0, 7]
    assert "gamma" not in " ".join(s.content for s in sources)
    used = sum(words(s.content) for s in sources)
    assert used <= 60


def test_the_source_limit_counts_documents() -> None:
    hits = [hit(f"text {i} " * 3, document=f"d{i}", score=10 - i) for i in range(6)]
    sources = fit_sources(hits, token_cost=words, budget=10_000, max_sources=2)
    assert len(sources) == 2


def test_titles_come_from_the_catalog_or_the_first_line() -> None:
    a = hit("# A heading\nbody", document="a")
    b = hit("\n\nFirst line of a post\nmore", document="b")
    titles = {str(a.document_id): "The Real Title"}
    sources = fit_sources([a, b], token_cost=words, budget=1000, max_sources=5, titles=titles.get)
    assert [s.title for s in sources] == ["The Real Title", "First line of a post"]


def test_prompt_numbers_sources_and_keeps_the_conversation() -> None:
    sources = fit_sources(
        [hit("Use a feature store.", link="https://x.dev/fs")], token_cost=words, budget=100, max_sources=5
    )
    conversation = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="hi"),
        ChatMessage(role="assistant", content="hello"),
        ChatMessage(role="user", content="What should I use?"),
    ]
    messages = build_messages(conversation, sources, twin_name="Paul's twin")
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert "Paul's twin" in messages[0].content and "Be brief." in messages[0].content
    last = messages[-1].content
    assert last.index("[1] Use a feature store.") < last.index("What should I use?"), "passages first"
    assert "https://x.dev/fs" not in last, "source details go in the response, not the prompt"


def test_citations_are_parsed_in_every_usual_form() -> None:
    assert cited_numbers("As [1] and [2, 3] say, and [4][5]. Not 6 or [x].") == {1, 2, 3, 4, 5}
    sources = fit_sources(
        [hit("a", document="a"), hit("b", document="b")], token_cost=words, budget=100, max_sources=5
    )
    assert [s.cited for s in mark_cited(sources, "see [2]")] == [False, True]

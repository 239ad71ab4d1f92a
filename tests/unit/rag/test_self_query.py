from __future__ import annotations

import pytest

from llm_engineering.application.rag.self_query import FuzzyAuthorMatcher, SelfQuery
from tests.unit.rag.fakes import ScriptedLLM

AUTHORS = ["Paul Iusztin", "Maxime Labonne", "Alex Vesa"]


@pytest.mark.parametrize(
    ("question", "author"),
    [
        ("What does Paul Iusztin say about RAG?", "Paul Iusztin"),
        ("what does paul iusztin think of feature stores", "Paul Iusztin"),
        ("Summarise Paul's view on LLMOps", "Paul Iusztin"),
        ("Summarise Paul’s view on LLMOps", "Paul Iusztin"),
        ("How does Labonne merge models?", "Maxime Labonne"),
        ("Maxime's take on quantisation", "Maxime Labonne"),
        ("what did Maxim Labone write on abliteration", "Maxime Labonne"),  # two typos
        ("Iustin on vector databases", "Paul Iusztin"),  # last name, one letter off
        ("ALEX VESA ON INFERENCE", "Alex Vesa"),
    ],
)
def test_finds_the_author_a_question_names(question: str, author: str) -> None:
    found = FuzzyAuthorMatcher().match(question, AUTHORS)
    assert found is not None and found.author == author


@pytest.mark.parametrize(
    "question",
    [
        "How do I fine-tune a model with LoRA?",
        "Should I pull the latest weights or pause training?",  # pull/pause are not Paul
        "What is the best vector database?",
        "maximum context length of small models",  # maximum is not Maxime
        "",
    ],
)
def test_no_author_for_ordinary_questions(question: str) -> None:
    assert FuzzyAuthorMatcher().match(question, AUTHORS) is None


def test_ordinary_words_count_only_when_capitalised() -> None:
    authors = ["Will Hunter"]
    assert FuzzyAuthorMatcher().match("will it work on my laptop?", authors) is None
    found = FuzzyAuthorMatcher().match("what does Hunter say about agents?", authors)
    assert found is not None and found.author == "Will Hunter"


def test_a_first_name_shared_by_two_authors_gives_no_filter() -> None:
    authors = ["Paul Iusztin", "Paul Smith"]
    assert FuzzyAuthorMatcher().match("What does Paul say?", authors) is None
    found = FuzzyAuthorMatcher().match("What does Paul Smith say?", authors)
    assert found is not None and found.author == "Paul Smith"


def test_the_llm_answer_must_be_a_known_author() -> None:
    query = SelfQuery(FuzzyAuthorMatcher(), ScriptedLLM("Maxime Labone"))
    assert query.author_for("who wrote about merging?", AUTHORS) == "Maxime Labonne"
    assert SelfQuery(FuzzyAuthorMatcher(), ScriptedLLM("Geoffrey Hinton")).author_for("x", AUTHORS) is None
    assert SelfQuery(FuzzyAuthorMatcher(), ScriptedLLM("none")).author_for("x", AUTHORS) is None


def test_no_authors_known_means_no_filter() -> None:
    assert SelfQuery(FuzzyAuthorMatcher()).author_for("What does Paul Iusztin say?", []) is None

"""Instruction writers and the dataset use cases, on cleaned documents built here.

The LLM is a real, tiny random model (tests/unit/datasets/tiny_llm.py) wrapped as an LLMClient;
`ParrotLLM` below is a deterministic stand-in for a model that copies the person's text, the one
case (near-identical pairs) a random model cannot produce on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from llm_engineering.application.datasets.generate import build_instruct_datasets, build_preference_datasets
from llm_engineering.application.datasets.writers import (
    LLMInstructionWriter,
    TemplateInstructionWriter,
    parse_instruction,
)
from llm_engineering.domain.datasets import DatasetError, DatasetGenerationConfig, Passage
from llm_engineering.domain.llm import ChatMessage, Completion, CompletionDelta, GenerationParams, TokenUsage
from llm_engineering.domain.types import DataCategory
from tests.unit.datasets.conftest import TOPICS, make_document, paragraph
from tests.unit.datasets.tiny_llm import TinyLLM

CONFIG = DatasetGenerationConfig(min_answer_tokens=20, max_answer_tokens=160, test_size=0.25, seed=3)


def _passage(**values: Any) -> Passage:
    base = dict(
        source_document_id="d1",
        author_full_name="Ada Sample",
        category=DataCategory.ARTICLES,
        platform="maximelabonne.substack.com",
        title="Fine-tune Llama 3",
        headings=("Why **LoRA**",),
        text=paragraph("lora"),
        token_count=80,
        index=2,
    )
    return Passage(**{**base, **values})


def test_template_writer_uses_title_headings_platform_and_is_seeded() -> None:
    passage = _passage()
    first = TemplateInstructionWriter(seed=1).instruction(passage)
    assert TemplateInstructionWriter(seed=1).instruction(passage) == first
    assert "Why **LoRA**" in first or "Fine-tune Llama 3" in first
    phrasings = {TemplateInstructionWriter(seed=s).instruction(passage) for s in range(40)}
    assert len(phrasings) >= 4, "several phrasings"

    intro = TemplateInstructionWriter(seed=1).instruction(_passage(headings=(), index=0))
    assert "Fine-tune Llama 3" in intro
    post = TemplateInstructionWriter(seed=1).instruction(
        _passage(category=DataCategory.POSTS, title="", headings=(), platform="linkedin", text="GPUs " * 5)
    )
    assert "LinkedIn" in post and "gpus" in post
    code = TemplateInstructionWriter(seed=1).instruction(
        _passage(
            category=DataCategory.REPOSITORIES, title="twin", headings=("src/app.py",), platform="github"
        )
    )
    assert "src/app.py" in code and "twin" in code


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"instruction": "Explain how LoRA adapters work."}', "Explain how LoRA adapters work."),
        ('Sure! ```json\n{"instruction": "Describe DPO."}\n```', "Describe DPO."),
        ("Instruction: Compare MoE and dense models.\nMore text", "Compare MoE and dense models."),
        ("{}", None),
        ("Summarise the extract above.", None),
        ("", None),
    ],
)
def test_parse_instruction(answer: str, expected: str | None) -> None:
    assert parse_instruction(answer) == expected


def test_llm_writer_falls_back_to_the_template_on_unusable_answers(tokenizer: Any) -> None:
    llm = TinyLLM(tokenizer)
    passages = [_passage(index=i) for i in range(3)]
    writer = LLMInstructionWriter(llm, concurrency=2, seed=1)
    instructions = writer.write(passages)
    assert llm.calls == 3
    assert len(instructions) == 3 and all(instructions)
    report = writer.report()
    assert report.get("llm_written", 0) + report.get("llm_fallback_to_template", 0) == 3
    for passage, instruction in zip(passages, instructions, strict=True):
        if instruction == TemplateInstructionWriter(1).instruction(passage):
            continue
        assert parse_instruction(instruction) == instruction


def _corpus() -> list[Any]:
    docs = []
    for author, n in (("Ada Sample", 6), ("Bob Writer", 4)):
        for d in range(n):
            topic = f"{TOPICS[(d + len(author)) % len(TOPICS)]} ({author})"
            sections = [f"# {author} on {topic} {d}", paragraph(f"{topic}{d}", 3, seed=d)]
            sections += [f"## Part {k}\n\n{paragraph(f'{topic}{d}p{k}', 3, seed=k)}" for k in range(2)]
            docs.append(make_document("\n\n".join(sections), author=author, title=f"{author} on {topic} {d}"))
    docs.append(make_document("Subscribe!\n\nImage by author", author="Bob Writer", key="chrome"))
    duplicate = docs[0].model_copy(update={"id": make_document("x", key="dup").id})
    return [*docs, duplicate]


def test_instruct_datasets_split_by_document_with_metadata(tokenizer: Any) -> None:
    documents = _corpus()
    datasets = build_instruct_datasets(
        documents, tokenizer, TemplateInstructionWriter(CONFIG.seed), CONFIG, tokenizer_name="minilm"
    )
    train_docs = {s.source_document_id for s in datasets.train}
    test_docs = {s.source_document_id for s in datasets.test}
    assert train_docs and test_docs and not train_docs & test_docs

    meta = datasets.metadata
    assert meta.documents == {"train": len(train_docs), "test": len(test_docs)}
    assert meta.samples_per_author["test"].keys() == {"Ada Sample", "Bob Writer"}, "stratified by author"
    total = sum(meta.samples_per_author["train"].values()) + sum(meta.samples_per_author["test"].values())
    assert total == len(datasets.train) + len(datasets.test)
    assert meta.samples_per_category["train"] == {"articles": len(datasets.train)}
    assert meta.filter_drops["near_duplicate"] == 3, "the copied document's three passages"
    assert meta.filter_drops["too_short"] >= 1, "the chrome-only document"
    assert meta.passages == len(datasets.train) + len(datasets.test) + sum(meta.filter_drops.values())
    assert 20 <= meta.answer_tokens.p50 <= meta.answer_tokens.max <= 160
    assert (meta.instruction_writer, meta.tokenizer, meta.seed) == ("template", "minilm", 3)
    texts = {d.id: d.content for d in documents}
    for sample in datasets.train + datasets.test:
        assert sample.answer in texts[__import__("uuid").UUID(sample.source_document_id)], "verbatim"

    again = build_instruct_datasets(documents, tokenizer, TemplateInstructionWriter(CONFIG.seed), CONFIG)
    assert again.metadata.content_hash == meta.content_hash, "deterministic"


def test_preference_datasets_keep_the_split_and_use_the_base_models_answers(tokenizer: Any) -> None:
    instruct = build_instruct_datasets(_corpus(), tokenizer, TemplateInstructionWriter(3), CONFIG)
    config = CONFIG.model_copy(
        update={"max_train_samples": 6, "rejected_max_tokens": 16, "llm_concurrency": 3}
    )
    llm = TinyLLM(tokenizer)
    pref = build_preference_datasets(instruct, llm, tokenizer, config)

    assert llm.calls == 6 + len(instruct.test)
    assert len(pref.train) == 6 - pref.metadata.filter_drops.get("empty_rejected", 0)
    instruct_test_docs = {s.source_document_id for s in instruct.test}
    assert {p.source_document_id for p in pref.test} <= instruct_test_docs
    assert not {p.source_document_id for p in pref.train} & instruct_test_docs
    by_prompt = {s.instruction: s.answer for s in instruct.train + instruct.test}
    for pair in pref.train + pref.test:
        assert pair.chosen == by_prompt[pair.prompt] and pair.rejected and pair.rejected != pair.chosen
    assert pref.metadata.rejected_model == "tiny-llama"
    assert pref.metadata.extra["capped_from"]["train"] == len(instruct.train)


class ParrotLLM:
    """Answers every other prompt with the person's own text (a model that memorised it)."""

    model_name = "parrot"
    context_window = 4096

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.seen = 0

    def warm_up(self) -> None: ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return 0

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        prompt = messages[-1].content
        answer = (
            self.answers[prompt] if sorted(self.answers).index(prompt) % 2 == 0 else "A different answer."
        )
        return Completion(text=answer, finish_reason="stop", usage=TokenUsage(), model=self.model_name)

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        raise NotImplementedError

    def close(self) -> None: ...


def test_near_identical_pairs_are_dropped(tokenizer: Any) -> None:
    instruct = build_instruct_datasets(_corpus(), tokenizer, TemplateInstructionWriter(3), CONFIG)
    samples = instruct.train + instruct.test
    pref = build_preference_datasets(
        instruct, ParrotLLM({s.instruction: s.answer for s in samples}), tokenizer, CONFIG
    )
    copied = sum(1 for i, _ in enumerate(sorted({s.instruction for s in samples})) if i % 2 == 0)
    assert pref.metadata.filter_drops["near_identical_rejected"] == copied
    assert len(pref.train) + len(pref.test) == len(samples) - copied


def test_no_documents_is_a_clear_error(tokenizer: Any) -> None:
    with pytest.raises(DatasetError, match="run the feature pipeline"):
        build_instruct_datasets([], tokenizer, TemplateInstructionWriter(), CONFIG)
    with pytest.raises(DatasetError, match="filtered out"):
        chrome = make_document("Subscribe!\n\nImage by author", key="chrome")
        build_instruct_datasets([chrome], tokenizer, TemplateInstructionWriter(), CONFIG)

"""The datasets use cases: feature store -> passages -> instruction and preference datasets.

1. `load_cleaned_documents`: the cleaned documents of the feature store, per author.
2. `build_instruct_datasets`: passages (the person's own text), quality filters, an instruction
   for each (back-translation), split by source document.
3. `build_preference_datasets`: the same samples as prompts; `chosen` is the person's passage,
   `rejected` the base model's own answer, generated in batches; near-identical pairs dropped.

The two datasets are built from the same passages with the same seed, so a document is on the
same side of the split in both: no test text of one is trained on through the other.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from loguru import logger

from llm_engineering.application.datasets import filters
from llm_engineering.application.datasets.passages import PassageSplitter, count_tokens
from llm_engineering.application.datasets.split import cap, split_by_document
from llm_engineering.application.ports import InstructionWriter, LLMClient, Tokenizer, VectorReader
from llm_engineering.domain.datasets import (
    DatasetError,
    DatasetGenerationConfig,
    DatasetKind,
    DatasetMetadata,
    InstructDatasets,
    InstructSample,
    PreferenceDatasets,
    PreferenceSample,
    TokenStats,
)
from llm_engineering.domain.features import CleanedDocument, cleaned_collection
from llm_engineering.domain.llm import ChatMessage, GenerationParams
from llm_engineering.domain.types import DataCategory

S = TypeVar("S", InstructSample, PreferenceSample)


def load_cleaned_documents(
    index: VectorReader, author_full_names: Sequence[str] = ()
) -> list[CleanedDocument]:
    """Every cleaned document (of the given authors, or of everyone), ordered by category and id.

    Raises `DatasetError` when the feature store has no cleaned documents at all, or when a named
    author has none.
    """
    wanted = [name.strip() for name in author_full_names if name.strip()]
    filters_ = {"author_full_name": wanted} if wanted else None
    documents: list[CleanedDocument] = []
    for category in DataCategory:
        name = cleaned_collection(category)
        if not index.collection_exists(name):
            continue
        for point_id, payload in index.scroll(name, filters_):
            documents.append(CleanedDocument.model_validate({**payload, "id": point_id}))
    if not documents and not wanted:
        raise DatasetError(
            "the feature store has no cleaned documents: run the feature pipeline first "
            "(poetry poe run-feature-pipeline)"
        )
    found = {d.author_full_name for d in documents}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise DatasetError(
            f"no cleaned documents for author(s) {', '.join(map(repr, missing))} in the feature store: "
            "check the name in the config's author_full_names, or run the ETL and feature pipelines for them"
        )
    documents.sort(key=lambda d: (d.category.value, str(d.id)))
    logger.info(
        "Loaded {} cleaned documents of {} author(s)",
        len(documents),
        len({d.author_full_name for d in documents}),
    )
    return documents


def build_instruct_datasets(
    documents: Sequence[CleanedDocument],
    tokenizer: Tokenizer,
    writer: InstructionWriter,
    config: DatasetGenerationConfig,
    *,
    tokenizer_name: str = "",
) -> InstructDatasets:
    """Passages -> filters -> instructions -> split by document, with the counts in the metadata."""
    if not documents:
        raise DatasetError("no cleaned documents to build datasets from: run the feature pipeline first")
    splitter = PassageSplitter(
        tokenizer, max_tokens=config.max_answer_tokens, min_tokens=config.min_answer_tokens
    )
    passages = [p for doc in documents for p in splitter.split(doc)]
    drops: Counter[str] = Counter()
    kept = filters.quality_filter(passages, config, drops)
    kept = filters.deduplicate(kept, config.dedup_threshold, drops)
    if not kept:
        raise DatasetError(
            f"all {len(passages)} passages of {len(documents)} documents were filtered out ({dict(drops)}): "
            "the documents are too short or only boilerplate; lower min_answer_tokens or add documents"
        )
    instructions = writer.write(kept)
    samples = [
        InstructSample(
            instruction=instruction,
            answer=p.text,
            source_document_id=p.source_document_id,
            author_full_name=p.author_full_name,
            category=p.category,
            title=p.title,
        )
        for p, instruction in zip(kept, instructions, strict=True)
    ]
    train, test = split_by_document(samples, config.test_size, config.seed)
    metadata = _metadata(
        DatasetKind.INSTRUCTION,
        train,
        test,
        answer_tokens=[p.token_count for p in kept],
        drops=drops,
        config=config,
        passages=len(passages),
        writer=writer,
        tokenizer_name=tokenizer_name,
    )
    logger.info(
        "Instruction datasets: {} train / {} test samples from {} passages; dropped {}",
        len(train),
        len(test),
        len(passages),
        dict(drops),
    )
    return InstructDatasets(train=train, test=test, metadata=metadata)


def rejected_prompt(instruction: str) -> list[ChatMessage]:
    """What the base model is asked: the instruction alone, in its own chat template."""
    return [ChatMessage(role="user", content=instruction)]


def build_preference_datasets(
    instruct: InstructDatasets,
    llm: LLMClient,
    tokenizer: Tokenizer,
    config: DatasetGenerationConfig,
) -> PreferenceDatasets:
    """The instruction samples as (prompt, chosen = the person's passage, rejected = the base model's)."""
    train = cap(instruct.train, config.max_train_samples, config.seed)
    test = cap(instruct.test, config.max_test_samples, config.seed)
    if not train and not test:
        raise DatasetError("the instruction datasets are empty: nothing to build preference pairs from")
    params = GenerationParams(
        max_tokens=config.rejected_max_tokens, temperature=config.rejected_temperature, seed=config.seed
    )
    rejected = _generate(llm, [s.instruction for s in [*train, *test]], params, config.llm_concurrency)
    drops: Counter[str] = Counter(instruct.metadata.filter_drops)
    pairs: list[PreferenceSample] = []
    for sample, answer in zip([*train, *test], rejected, strict=True):
        answer = answer.strip()
        if not answer:
            drops["empty_rejected"] += 1
            continue
        if filters.jaccard(sample.answer, answer) >= config.near_identical_threshold:
            drops["near_identical_rejected"] += 1
            continue
        pairs.append(
            PreferenceSample(
                prompt=sample.instruction,
                chosen=sample.answer,
                rejected=answer,
                source_document_id=sample.source_document_id,
                author_full_name=sample.author_full_name,
                category=sample.category,
                title=sample.title,
            )
        )
    test_ids = {s.source_document_id for s in instruct.test}
    pref_train = [p for p in pairs if p.source_document_id not in test_ids]
    pref_test = [p for p in pairs if p.source_document_id in test_ids]
    metadata = _metadata(
        DatasetKind.PREFERENCE,
        pref_train,
        pref_test,
        answer_tokens=count_tokens(tokenizer, [p.chosen for p in pairs]),
        drops=drops,
        config=config,
        passages=instruct.metadata.passages,
        writer=None,
        tokenizer_name=instruct.metadata.tokenizer,
    )
    metadata.instruction_writer = instruct.metadata.instruction_writer
    metadata.rejected_model = llm.model_name
    rejected_tokens = count_tokens(tokenizer, [p.rejected for p in pairs])
    metadata.extra["rejected_tokens"] = _stats(rejected_tokens).model_dump()
    metadata.extra["capped_from"] = {"train": len(instruct.train), "test": len(instruct.test)}
    logger.info(
        "Preference datasets: {} train / {} test pairs; dropped {}",
        len(pref_train),
        len(pref_test),
        dict(drops),
    )
    return PreferenceDatasets(train=pref_train, test=pref_test, metadata=metadata)


def _generate(
    llm: LLMClient, instructions: list[str], params: GenerationParams, concurrency: int
) -> list[str]:
    """The LLM's answers, in order; `concurrency` requests in flight (a local adapter batches them)."""
    from tqdm.auto import tqdm

    llm.warm_up()

    def answer(instruction: str) -> str:
        return llm.complete(rejected_prompt(instruction), params).text

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(
            tqdm(
                pool.map(answer, instructions),
                total=len(instructions),
                desc=f"rejected answers ({llm.model_name})",
                unit="answer",
            )
        )


def _stats(tokens: Sequence[int]) -> TokenStats:
    if not tokens:
        return TokenStats()
    values = np.asarray(tokens)
    return TokenStats(
        count=len(values),
        mean=round(float(values.mean()), 1),
        p50=float(np.percentile(values, 50)),
        p95=float(np.percentile(values, 95)),
        max=int(values.max()),
        total=int(values.sum()),
    )


def _by(samples: Sequence[InstructSample | PreferenceSample], field: str) -> dict[str, int]:
    return dict(sorted(Counter(str(getattr(s, field)) for s in samples).items()))


def content_hash(train: Sequence[S], test: Sequence[S]) -> str:
    payload = json.dumps(
        {
            "train": [s.model_dump(mode="json") for s in train],
            "test": [s.model_dump(mode="json") for s in test],
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _metadata(
    kind: DatasetKind,
    train: Sequence[S],
    test: Sequence[S],
    *,
    answer_tokens: Sequence[int],
    drops: Counter[str],
    config: DatasetGenerationConfig,
    passages: int,
    writer: InstructionWriter | None,
    tokenizer_name: str,
) -> DatasetMetadata:
    extra = writer.report() if writer is not None else {}
    return DatasetMetadata(
        kind=kind,
        samples_per_author={"train": _by(train, "author_full_name"), "test": _by(test, "author_full_name")},
        samples_per_category={
            "train": {k: v for k, v in _by(train, "category").items()},
            "test": {k: v for k, v in _by(test, "category").items()},
        },
        documents={
            "train": len({s.source_document_id for s in train}),
            "test": len({s.source_document_id for s in test}),
        },
        answer_tokens=_stats(answer_tokens),
        filter_drops=dict(sorted(drops.items())),
        passages=passages,
        instruction_writer=writer.name if writer is not None else "",
        tokenizer=tokenizer_name,
        seed=config.seed,
        test_size=config.test_size,
        content_hash=content_hash(train, test),
        extra=dict(extra),
    )

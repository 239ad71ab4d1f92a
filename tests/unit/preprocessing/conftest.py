"""A tiny WordPiece tokenizer trained on the fly: real `tokenizers` code, no model download."""

from __future__ import annotations

import uuid

import pytest

from llm_engineering.domain.features import CleanedDocument
from llm_engineering.domain.types import DataCategory

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Chunking splits cleaned documents into pieces that fit the embedding model.",
    "Every character of a document lands in at least one chunk.",
    "def embed(texts): return model.encode(texts, batch_size=32)",
    "Retrieval augmented generation needs good chunks, headings and paragraphs.",
    "import numpy as np; vectors = np.zeros((3, 384), dtype=np.float32)",
    "https://example.com/docs/page?id=42 is a URL that must survive cleaning.",
]


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    backend.train_from_iterator(_CORPUS * 5, trainer=trainer)
    cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        model_max_length=64,
    )


@pytest.fixture
def make_doc():
    def make(content: str, category: DataCategory = DataCategory.ARTICLES) -> CleanedDocument:
        return CleanedDocument(
            id=uuid.UUID("11111111-2222-3333-4444-555555555555"),
            category=category,
            platform="test",
            link="https://example.com/a",
            author_id=uuid.UUID("99999999-2222-3333-4444-555555555555"),
            author_full_name="Ada Lovelace",
            content=content,
            source_hash="abc",
        )

    return make

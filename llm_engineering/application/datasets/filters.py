"""Quality filters on answers: length, boilerplate, code-only, near-duplicates; every drop counted.

Each filter keeps the order of what it is given (so a run is deterministic) and adds to a
`Counter` of drop reasons that ends up in the dataset's metadata.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from llm_engineering.application.preprocessing.chunking import code_block_spans
from llm_engineering.domain.datasets import DatasetGenerationConfig, Passage
from llm_engineering.domain.types import DataCategory

#: lines that carry no writing of the person: calls to action, credits, navigation, bare links
_BOILERPLATE_LINE = re.compile(
    r"""^\W*(
        (subscribe|sign\ up|follow\ (me|us)|share\ (this|on)|like\ (and|&)\ (share|subscribe)|
         thanks?\ (you\ )?for\ reading|join\ (my|our|the)\ (newsletter|community)|
         click\ here|read\ more|leave\ a\ comment|clap|buy\ me\ a\ coffee|
         (image|photo|figure|source|credit)s?\ (by|from|:)|
         image\ by\ author|table\ of\ contents|related\ (posts|articles)|
         copyright|all\ rights\ reserved|privacy\ policy|terms\ of)\b.*
      | \[[^\]]*\]\([^)]*\)\W*                   # a lone markdown link
      | (https?://|www\.)\S+\W*                   # a lone URL
      | [\W\d_]*                                  # punctuation, numbers, emoji only
    )$""",
    re.I | re.X,
)
_WORD = re.compile(r"[^\W\d_]{2,}")
_SHINGLE = 3


def code_share(text: str) -> float:
    """Share of the text's characters inside fenced code blocks."""
    if not text:
        return 0.0
    return sum(end - start for start, end in code_block_spans(text)) / len(text)


def boilerplate_share(text: str) -> float:
    """Share of the non-code, non-empty lines' characters that are boilerplate."""
    prose = text
    for start, end in reversed(code_block_spans(text)):
        prose = prose[:start] + prose[end:]
    lines = [line.strip() for line in prose.splitlines() if line.strip()]
    if not lines:
        return 0.0
    total = sum(len(line) for line in lines)
    return sum(len(line) for line in lines if _BOILERPLATE_LINE.match(line)) / total


def shingles(text: str, size: int = _SHINGLE) -> set[str]:
    words = [w.lower() for w in re.findall(r"\w+", text)]
    if len(words) < size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: str, b: str) -> float:
    """Exact Jaccard similarity of the two texts' word 3-shingles."""
    sa, sb = shingles(a), shingles(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def quality_filter(
    passages: Sequence[Passage], config: DatasetGenerationConfig, drops: Counter[str]
) -> list[Passage]:
    """Drop answers too short or too long, boilerplate-only, or code-only outside repositories."""
    kept = []
    for passage in passages:
        reason = _drop_reason(passage, config)
        if reason:
            drops[reason] += 1
        else:
            kept.append(passage)
    return kept


def _drop_reason(passage: Passage, config: DatasetGenerationConfig) -> str | None:
    if passage.token_count < config.min_answer_tokens:
        return "too_short"
    if passage.token_count > config.max_answer_tokens:
        return "too_long"
    is_code = passage.category == DataCategory.REPOSITORIES
    if not is_code and code_share(passage.text) > config.max_code_share:
        return "code_only"
    if not is_code and boilerplate_share(passage.text) > config.max_boilerplate_share:
        return "boilerplate"
    if not is_code and len(_WORD.findall(passage.text)) < 8:
        return "boilerplate"
    return None


def deduplicate(
    passages: Sequence[Passage], threshold: float, drops: Counter[str], *, num_perm: int = 128
) -> list[Passage]:
    """Drop passages whose answer is a near-duplicate of an earlier one (MinHash LSH, word 3-shingles).

    Candidates from the LSH index are confirmed on their estimated Jaccard similarity, so only pairs
    at or above `threshold` count; the first of a group is kept.
    """
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    hashes: dict[str, MinHash] = {}
    kept: list[Passage] = []
    for position, passage in enumerate(passages):
        minhash = MinHash(num_perm=num_perm, seed=1)
        minhash.update_batch([s.encode("utf-8") for s in shingles(passage.text)])
        if any(minhash.jaccard(hashes[key]) >= threshold for key in lsh.query(minhash)):
            drops["near_duplicate"] += 1
            continue
        key = str(position)
        hashes[key] = minhash
        lsh.insert(key, minhash)
        kept.append(passage)
    return kept

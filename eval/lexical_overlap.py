"""How many of a query's content words its relevant article already uses, to keep an eval set honest.

A query copied from its article is found by any keyword search; one in the reader's own words is a
harder test of retrieval. For each query: the share of its content-word stems (lower-cased, stop
words dropped, words cut to their first 5 letters so "quantize" meets "quantization") found in

- `article`: anywhere in the relevant article (the best one, when several are relevant);
- `passage`: the best window of 100 words (stride 50) of a relevant article, i.e. in one place,
  where a chunk-level retriever would have to find it.

`python eval/lexical_overlap.py CORPUS_DIR SET.jsonl [SET.jsonl ...]` prints the means per set.
Standard library only.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import unicodedata
from pathlib import Path

WINDOW, STRIDE, STEM = 100, 50, 5

STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each even ever every
    few for from further get gets got had has have having he her here hers him his how i if in into
    is it its itself just me more most my no nor not now of off on once one only or other our ours
    out over own same she should so some such than that the their theirs them then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours instead rather use used using way ways make makes like
    """.split()  # noqa: SIM905 - a word list reads best as text
)

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric words of `text` after NFKC (Unicode 'bold' letters become plain)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def stem(word: str) -> str:
    return word[:STEM]


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in STOP_WORDS and len(w) > 1}


def overlap(query: str, article: str) -> tuple[float, float]:
    """(article, passage) overlap of `query` with one article's text, each in [0, 1]."""
    wanted = content_stems(query)
    if not wanted:
        return 0.0, 0.0
    stems = [stem(w) for w in words(article)]
    whole = len(wanted & set(stems)) / len(wanted)
    best = 0
    for start in range(0, max(len(stems) - WINDOW, 0) + 1, STRIDE):
        best = max(best, len(wanted & set(stems[start : start + WINDOW])))
    return whole, best / len(wanted)


def set_overlap(records: list[dict], text_of: dict[str, str]) -> list[tuple[float, float]]:
    """Per query, the best (article, passage) overlap over its relevant links."""
    out = []
    for record in records:
        pairs = [overlap(record["query"], text_of[link]) for link in record["relevant_links"]]
        out.append((max(p[0] for p in pairs), max(p[1] for p in pairs)))
    return out


def load_corpus(corpus_dir: Path) -> dict[str, str]:
    """link -> the article's text (title, subtitle and content) from a warehouse export folder."""
    articles = json.loads((corpus_dir / "ArticleDocument.json").read_text(encoding="utf-8"))
    return {a["link"]: " ".join(str(v) for v in a["content"].values() if v) for a in articles}


def load_set(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit("usage: python eval/lexical_overlap.py CORPUS_DIR SET.jsonl [SET.jsonl ...]")
    text_of = load_corpus(Path(argv[0]))
    for name in argv[1:]:
        scores = set_overlap(load_set(Path(name)), text_of)
        article = [s[0] for s in scores]
        passage = [s[1] for s in scores]
        print(
            json.dumps(
                {
                    "set": name,
                    "queries": len(scores),
                    "article_mean": round(statistics.mean(article), 3),
                    "passage_mean": round(statistics.mean(passage), 3),
                    "passage_median": round(statistics.median(passage), 3),
                    "passage_at_most_half": round(sum(p <= 0.5 for p in passage) / len(passage), 3),
                }
            )
        )


if __name__ == "__main__":
    main(sys.argv[1:])

"""Self-query: which known author is a question about? The answer becomes a retrieval filter.

Offline, names in the question are matched fuzzily (rapidfuzz) against the feature store's
authors: full names, first or last names alone, possessives ("Paul's"), any case, small typos
("Maxim Labone"). A single word needs an exact match unless it is long enough for a typo to be
told from another word, and an ordinary English word only counts when written with a capital.
A name that fits two authors equally well gives no filter rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from llm_engineering.application.ports import LLMClient
from llm_engineering.domain.llm import ChatMessage, GenerationParams

_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’\-](?=[^\W\d_]))*", re.UNICODE)
_POSSESSIVE = re.compile(r"['’]s?$", re.IGNORECASE)

_COMMON = """
    a about after all also an and any are as at be because been but by can could day did do does
    for from get go good has have he her here him his how i if in into is it its just know like
    long make man many may me more most much my new no not now of on one only or other our out
    over people say see she should so some take than that the their them then there these they
    think this time to two up us use very want was way we well were what when where which who
    will with work would year you your bill bob brown cook dean frank grant hope king lane long
    mark may miles page park rich rose sky stone story summer grace joy hunter faith love baker
    carpenter fisher gay hill wood young
"""
#: words that are also first or last names somewhere; they match an author only when capitalised
COMMON_WORDS = frozenset(_COMMON.split())


@dataclass(frozen=True)
class AuthorMatch:
    author: str
    score: float
    #: the words of the question that named them
    matched: str


def _words(text: str) -> list[str]:
    """The question's words, possessives stripped, in order: ("Paul's" -> "Paul")."""
    return [_POSSESSIVE.sub("", w) for w in _WORD.findall(text)]


def _norm(text: str) -> str:
    return text.casefold().replace("’", "'")


class FuzzyAuthorMatcher:
    """Finds the one known author a text names, or None."""

    def __init__(self, min_score: float = 85.0, *, min_typo_length: int = 5) -> None:
        self.min_score = min_score
        self.min_typo_length = min_typo_length

    def match(self, text: str, authors: Sequence[str]) -> AuthorMatch | None:
        words = _words(text)
        if not words or not authors:
            return None
        best: dict[str, AuthorMatch] = {}
        for author in authors:
            found = self._score(words, author)
            if found is not None:
                best[author] = found
        if not best:
            return None
        ranked = sorted(best.values(), key=lambda m: m.score, reverse=True)
        if len(ranked) > 1 and ranked[1].score >= ranked[0].score:
            return None  # "Paul" with two authors called Paul: no filter rather than a guess
        return ranked[0]

    def _score(self, words: list[str], author: str) -> AuthorMatch | None:
        parts = _words(author)
        if not parts:
            return None
        full = _norm(" ".join(parts))
        best: AuthorMatch | None = None
        # the full name (or as many words as it has), typos allowed: scored 100 + similarity
        n = len(parts)
        if n > 1:
            for i in range(len(words) - n + 1):
                window = " ".join(words[i : i + n])
                ratio = fuzz.ratio(_norm(window), full)
                if ratio >= self.min_score and (best is None or 100 + ratio > best.score):
                    best = AuthorMatch(author, 100 + ratio, window)
        if best is not None:
            return best
        # one word of the name alone (first or last name): scored by similarity, at most 100
        for word in words:
            for part in parts:
                score = self._single(word, part)
                if score is not None and (best is None or score > best.score):
                    best = AuthorMatch(author, score, word)
        return best

    def _single(self, word: str, part: str) -> float | None:
        w, p = _norm(word), _norm(part)
        if len(p) < 3:
            return None
        if w in COMMON_WORDS and not word[:1].isupper():
            return None  # "will it work" is not about Will Smith
        if w == p:
            return 100.0
        if len(w) < self.min_typo_length or len(p) < self.min_typo_length:
            return None  # short words: one letter off is another word ("Paul" vs "pull")
        ratio = fuzz.ratio(w, p)
        return ratio if ratio >= self.min_score else None


SELF_QUERY_PROMPT = (
    "You find the person a question is about. Known authors: {authors}.\n"
    "If the question below is about one of them, answer with that author's full name only. "
    "Otherwise answer with the single word none.\n\nQuestion: {question}"
)


class SelfQuery:
    """The author filter for a question: by fuzzy matching, or by asking the LLM (then matching)."""

    def __init__(self, matcher: FuzzyAuthorMatcher, llm: LLMClient | None = None) -> None:
        self.matcher = matcher
        self.llm = llm

    def author_for(self, question: str, authors: Sequence[str]) -> str | None:
        if not authors:
            return None
        if self.llm is None:
            found = self.matcher.match(question, authors)
            return found.author if found else None
        prompt = SELF_QUERY_PROMPT.format(authors=", ".join(authors), question=question)
        reply = self.llm.complete(
            [ChatMessage(role="user", content=prompt)], GenerationParams(max_tokens=16, temperature=0.0)
        ).text
        if _norm(reply).strip(" .\n") in {"none", ""}:
            return None
        found = self.matcher.match(reply, authors)  # only a known author counts, however it is spelt
        return found.author if found else None

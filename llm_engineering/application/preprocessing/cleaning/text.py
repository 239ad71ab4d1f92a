"""Characters: line breaks, mojibake, binary garbage, Unicode normalisation of prose and code."""

from __future__ import annotations

import re
import unicodedata

import ftfy

#: C0/C1 controls except \t and \n (\r is normalised to \n before this runs).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: zero-width and invisible formatting characters (ZWSP, ZWNJ, ZWJ, LRM/RLM, word joiner, BOM, ...)
_ZERO_WIDTH = re.compile(r"[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
#: in code only what is invisible and never meant: ZWSP, word joiner, BOM
_CODE_INVISIBLE = re.compile(r"[\u200b\u2060\ufeff]")
_REPLACEMENT_RUN = re.compile(r"\ufffd{2,}")

#: share of U+FFFD/control characters above which a file or text is binary garbage
BINARY_GARBAGE_RATIO = 0.3


def fix_newlines(text: str) -> str:
    """\\r\\n, \\r and the Unicode line/paragraph separators become \\n."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded as cp1252/latin-1 ("â€™" -> "’"), only where that clearly helps.

    Check `garbage_ratio` first: on binary read as latin-1, ftfy re-decodes some byte runs and
    lowers the ratio below `BINARY_GARBAGE_RATIO` (0.38 -> 0.26 on 4 KiB of random bytes).
    """
    return ftfy.fix_encoding(text)


#: Latin-1's symbol block (U+00A0-U+00BF): rare in text, a quarter of the 8-bit range of binary.
_LATIN1_SYMBOLS = re.compile(r"[\xa0-\xbf\xd7\xf7]")


def garbage_ratio(text: str) -> float:
    """Share of characters that only binary read as text is full of.

    U+FFFD (bytes that did not decode), control characters, and Latin-1 symbols: binary decoded
    as latin-1 (a page served as iso-8859-1) is ~25% C0/C1 controls and ~14% such symbols, while
    prose in any language, accented letters included, has almost none.
    """
    if not text:
        return 0.0
    bad = text.count("\ufffd") + len(_CONTROL.findall(text)) + len(_LATIN1_SYMBOLS.findall(text))
    return bad / len(text)


def normalize_prose(text: str) -> str:
    """NFKC, invisible/control characters out, spaces collapsed. For text that is not code."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    text = _ZERO_WIDTH.sub("", text)
    return _REPLACEMENT_RUN.sub("\ufffd", text)


def normalize_code(text: str) -> str:
    """Only what can never be meant in code goes: control characters, BOM, zero-width spaces."""
    text = _CONTROL.sub("", text)
    text = _CODE_INVISIBLE.sub("", text)
    return _REPLACEMENT_RUN.sub("\ufffd", text)


_MARKUP = re.compile(r"[*_`#>\[\]]+")


def plain(text: str) -> str:
    """Text stripped of markdown markup, casefolded and whitespace-collapsed (for comparisons)."""
    text = _MARKUP.sub(" ", unicodedata.normalize("NFKC", text)).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def words(text: str) -> int:
    return len(text.split())

"""Warehouse documents -> cleaned text that keeps what carries meaning, per category.

Kept: paragraphs and their breaks, markdown headings, lists, fenced code, URLs.
Removed: site chrome (navigation menus, share widgets, subscribe/footer blocks, tables of
contents), zero-width and control characters, html2text escape artefacts.

Unicode: prose is NFKC-normalised, which folds the "Unicode bold" math-alphanumeric letters
LinkedIn and Substack authors use (𝗯𝗼𝗹𝗱 -> bold), full-width forms and ligatures. Code is NOT:
NFKC rewrites characters that can matter in code (superscripts `x²` -> `x2`, `ﬁ` inside string
literals, full-width text in test fixtures). Inside code only control characters, the BOM and
zero-width spaces (invisible, never intended) are removed; everything else stays byte-for-byte.

Modules: `text` (characters, mojibake via ftfy, Unicode), `blocks` (prose lines and whole code
blocks, prose line rules), `chrome` (site navigation, widgets, bylines, footers), `languages`
(code-fence tags from file names), `documents` (one cleaner per category, `clean_document`).
"""

from llm_engineering.application.preprocessing.cleaning.blocks import fence_for, fenced
from llm_engineering.application.preprocessing.cleaning.documents import (
    EmptyDocumentError,
    clean_article_body,
    clean_document,
    clean_text,
    clean_title,
)
from llm_engineering.application.preprocessing.cleaning.languages import language_for
from llm_engineering.application.preprocessing.cleaning.text import (
    BINARY_GARBAGE_RATIO,
    fix_mojibake,
    fix_newlines,
    garbage_ratio,
    normalize_code,
    normalize_prose,
    plain,
)

__all__ = [
    "BINARY_GARBAGE_RATIO",
    "EmptyDocumentError",
    "clean_article_body",
    "clean_document",
    "clean_text",
    "clean_title",
    "fence_for",
    "fenced",
    "fix_mojibake",
    "fix_newlines",
    "garbage_ratio",
    "language_for",
    "normalize_code",
    "normalize_prose",
    "plain",
]

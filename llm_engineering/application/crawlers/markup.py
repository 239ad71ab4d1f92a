"""HTML -> markdown pieces every article crawler shares: code blocks, language tags, tidying."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bs4 import Tag

_LANGUAGE_CLASS_PREFIXES = ("language-", "lang-")


def primary_language(tag: object) -> str | None:
    """The primary subtag of a language tag, lower-cased ("en-US", "en_GB" -> "en"); None if empty."""
    if not tag:
        return None
    return str(tag).strip().replace("_", "-").split("-", 1)[0].lower() or None


def code_language(pre: Tag) -> str | None:
    """The language of a <pre> block: `data-code-block-lang` (Medium), `data-lang`, or a
    `language-xxx` / `lang-xxx` class, on the block or anything inside it."""
    for element in (pre, *pre.find_all(True)):
        if lang := element.get("data-code-block-lang") or element.get("data-lang"):
            return str(lang)
        for cls in element.get("class") or []:
            if cls.startswith(_LANGUAGE_CLASS_PREFIXES):
                return cls.split("-", 1)[1]
    return None


def code_blocks_to_markdown(root: Tag, **markdownify_options: Any) -> str:
    """Markdown of `root` whose <pre> blocks become fenced code with their language.

    Sites write code lines as <br>-separated (highlighted) spans; markdown needs real newlines,
    so each block is flattened to its text first. Spaces at line ends and runs of blank lines go.
    """
    from bs4 import NavigableString
    from markdownify import markdownify

    for pre in root.find_all("pre"):
        for br in pre.find_all("br"):
            br.replace_with(NavigableString("\n"))
        language = code_language(pre)
        code = pre.get_text()
        pre.clear()
        pre.append(NavigableString(code.rstrip("\n")))
        pre.attrs = {"data-lang": language} if language else {}
    markdown = markdownify(
        str(root),
        heading_style="ATX",
        bullets="-",
        code_language_callback=lambda el: el.get("data-lang") or "",
        **markdownify_options,
    )
    markdown = re.sub(r"[ \t]+\n", "\n", markdown)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()

"""HTML page -> the warehouse's article content: {"Title", "Subtitle", "Content", "language"}.

trafilatura finds the main content of pages it has never seen (menus, sidebars and footers
dropped) and writes markdown; markdownify on <article>/<main> is the fallback when it finds none.
Code blocks are normalised first (`markup.normalize_code_blocks`) and stand in the page as
placeholders while trafilatura reads it, so every line, its indentation and the block's language
come back verbatim whatever markup the blog generator used.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from llm_engineering.application.crawlers.markup import (
    code_language,
    normalize_code_blocks,
    parse_html,
    primary_language,
)
from llm_engineering.domain.exceptions import CrawlError, ErrorKind

#: below this many words, what was extracted is a menu or a stub, not an article
MIN_WORDS = 12

_HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)", re.I)
_FENCE = re.compile(r"^\s*(```|~~~)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_BOILERPLATE_TAGS = (
    "nav",
    "header",
    "footer",
    "aside",
    "script",
    "style",
    "noscript",
    "form",
    "iframe",
    "svg",
)


def html_to_article(html: str, url: str) -> dict[str, Any]:
    """Extract the article of a page; raise CrawlError(NO_CONTENT) when it holds none."""
    import trafilatura

    page, code_blocks = _with_code_placeholders(html)
    content = trafilatura.extract(
        page,
        url=url,
        output_format="markdown",
        include_formatting=True,
        include_links=True,
        include_tables=True,
        include_images=False,
        include_comments=False,
        with_metadata=False,
        deduplicate=False,
    )
    if not _meaningful(content):
        content = _fallback_markdown(page)
    content = _restore_code(content, code_blocks)
    if not _meaningful(content):
        raise CrawlError(
            ErrorKind.NO_CONTENT,
            f"{url} has no article text (only menus or scripts?): link to the article page itself",
        )
    metadata = trafilatura.extract_metadata(html, default_url=url)
    title = (metadata.title if metadata else None) or _first_heading(content)
    subtitle = metadata.description if metadata else None
    return {
        "Title": title.strip() if title else None,
        "Subtitle": subtitle.strip() if subtitle and subtitle.strip() != (title or "").strip() else None,
        "Content": tidy_markdown(content or ""),
        "language": page_language(html),
    }


def html_fragment_to_markdown(html: str) -> str:
    """Markdown of an already-clean HTML fragment (a feed entry's content), nothing dropped."""
    from markdownify import markdownify

    soup = parse_html(html)
    normalize_code_blocks(soup)
    markdown = markdownify(
        str(soup),
        heading_style="ATX",
        bullets="-",
        strip=["img", "script", "style"],
        code_language_callback=code_language,
    )
    return tidy_markdown(markdown)


def page_language(html: str) -> str | None:
    """The primary language subtag of <html lang="...">, lower-cased ("en-US" -> "en")."""
    match = _HTML_LANG.search(html[:5000])
    return primary_language(match.group(1)) if match else None


def tidy_markdown(text: str) -> str:
    """Join hard-wrapped paragraph lines, keep code blocks verbatim, one blank line between blocks."""
    out: list[str] = []
    in_code = False
    for line in text.splitlines():
        if _FENCE.match(line):
            if in_code:
                out.append(line.rstrip())
                out.append("")
            else:
                if out and out[-1].strip():
                    out.append("")
                out.append(line.strip())
            in_code = not in_code
            continue
        if in_code:
            out.append(line.rstrip("\n"))
            continue
        stripped = line.strip()
        if not stripped and out and not out[-1].strip():
            continue  # one blank line between blocks (blank lines inside code are kept)
        continues_paragraph = (
            out and out[-1].strip() and line[:1].isspace() and not _LIST_ITEM.match(line) and stripped
        )
        if continues_paragraph:
            out[-1] = f"{out[-1].rstrip()} {stripped}"
        else:
            out.append(line.rstrip())
    return "\n".join(out).strip()


def _with_code_placeholders(html: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """The page with each code block normalised and its text replaced by a unique placeholder
    word, and the blocks by placeholder: {placeholder: (language, code)}."""
    soup = parse_html(html)
    nonce = uuid.uuid4().hex[:12]
    blocks: dict[str, tuple[str, str]] = {}
    for index, pre in enumerate(normalize_code_blocks(soup)):
        placeholder = f"llmtwincode{nonce}n{index}"
        blocks[placeholder] = (str(pre.get("data-lang") or ""), pre.get_text())
        pre.string = placeholder
    return (str(soup), blocks) if blocks else (html, blocks)


def _restore_code(markdown: str | None, blocks: dict[str, tuple[str, str]]) -> str | None:
    """Put each block's code back where its placeholder landed, as a fenced block."""
    if not markdown or not blocks:
        return markdown
    for placeholder, (language, code) in blocks.items():
        fenced = f"\n\n```{language}\n{code}\n```\n\n"
        quoted = re.escape(placeholder)
        markdown, count = re.subn(
            rf"^[ \t]*(?:```|~~~)[^\n]*\n\s*{quoted}\s*\n[ \t]*(?:```|~~~)[ \t]*$",
            lambda _match, fenced=fenced: fenced,
            markdown,
            flags=re.M,
        )
        if not count:
            markdown = re.sub(rf"`?{quoted}`?", lambda _match, fenced=fenced: fenced, markdown)
    return markdown


def _meaningful(content: str | None) -> bool:
    return bool(content) and len(re.findall(r"\w+", content)) >= MIN_WORDS


def _fallback_markdown(html: str) -> str | None:
    from markdownify import markdownify

    soup = parse_html(html)
    root = soup.find("article") or soup.find("main")
    if root is None:
        return None
    for tag in root.find_all(_BOILERPLATE_TAGS):
        tag.decompose()
    normalize_code_blocks(root)
    return markdownify(
        str(root), heading_style="ATX", bullets="-", strip=["img"], code_language_callback=code_language
    )


def _first_heading(content: str | None) -> str | None:
    match = re.search(r"^#{1,3}\s+(.+)$", content or "", re.M)
    return match.group(1).strip() if match else None

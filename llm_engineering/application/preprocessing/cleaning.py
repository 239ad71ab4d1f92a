"""Warehouse documents -> cleaned text that keeps what carries meaning, per category.

Kept: paragraphs and their breaks, markdown headings, lists, fenced code, URLs.
Removed: site chrome (navigation menus, share widgets, subscribe/footer blocks, tables of
contents), zero-width and control characters, html2text escape artefacts.

Unicode: prose is NFKC-normalised, which folds the "Unicode bold" math-alphanumeric letters
LinkedIn and Substack authors use (𝗯𝗼𝗹𝗱 -> bold), full-width forms and ligatures. Code is NOT:
NFKC rewrites characters that can matter in code (superscripts `x²` -> `x2`, `ﬁ` inside string
literals, full-width text in test fixtures). Inside code only control characters, the BOM and
zero-width spaces (invisible, never intended) are removed; everything else stays byte-for-byte.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from llm_engineering.domain.documents import (
    ArticleDocument,
    ContentDocument,
    PostDocument,
    RepositoryDocument,
)
from llm_engineering.domain.exceptions import LLMTwinException
from llm_engineering.domain.features import CleanedDocument


class EmptyDocumentError(LLMTwinException, ValueError):
    """Nothing meaningful is left of a document once cleaned (or chunked): skip it, don't embed it."""


# --- characters -----------------------------------------------------------------------------

#: C0/C1 controls except \t and \n (\r is normalised to \n before this runs).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: zero-width and invisible formatting characters (ZWSP, ZWNJ, ZWJ, LRM/RLM, word joiner, BOM, ...)
_ZERO_WIDTH = re.compile(r"[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
#: in code only what is invisible and never meant: ZWSP, word joiner, BOM
_CODE_INVISIBLE = re.compile(r"[\u200b\u2060\ufeff]")
_REPLACEMENT_RUN = re.compile(r"\ufffd{2,}")
#: typical UTF-8 read as cp1252/latin-1 ("â€™" for "’", "Ã©" for "é")
_MOJIBAKE = re.compile(r"â€[™œ\x9d”“˜¦¢]|Ã[\x80-\xbf©¨§¶¤¼½ª«»¡]|Â[\xa0-\xbf ]")

#: share of U+FFFD/control characters above which a file or text is binary garbage
BINARY_GARBAGE_RATIO = 0.3


def fix_newlines(text: str) -> str:
    """\\r\\n, \\r and the Unicode line/paragraph separators become \\n."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded as cp1252/latin-1, only when that clearly helps."""
    found = len(_MOJIBAKE.findall(text))
    if not found:
        return text
    for codec in ("cp1252", "latin-1"):
        try:
            repaired = text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
        if len(_MOJIBAKE.findall(repaired)) < found:
            return repaired
    return text


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


# --- blocks: prose lines and whole code blocks ----------------------------------------------


@dataclass
class _Block:
    """One prose line, or one whole fenced code block (never touched by the prose rules)."""

    text: str
    code: bool = False


_FENCE_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_HTML2TEXT_CODE_MARK = "    "


def fence_for(code: str) -> str:
    """A backtick fence longer than any backtick run inside `code` (CommonMark)."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def fenced(code: str, language: str = "") -> str:
    fence = fence_for(code)
    return f"{fence}{language}\n{code}\n{fence}"


def _split_blocks(text: str) -> list[_Block]:
    """Lines of prose, with fenced code blocks and html2text code blocks as whole blocks.

    html2text writes a `<pre>` as two or more lines holding exactly four spaces followed by the
    code indented by four spaces; those become fenced blocks (a run of 2+ blank lines inside
    separates two `<pre>`s). Plain indented markdown is left alone: it is ambiguous with lists.
    """
    lines = text.split("\n")
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            marker = opening.group(2)
            close = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}\s*$")
            j = i + 1
            while j < len(lines) and not close.match(lines[j]):
                j += 1
            body = "\n".join(lines[i + 1 : j])
            blocks.append(_Block(fenced(normalize_code(body), opening.group(3).strip()), code=True))
            i = j + 1
            continue
        if line == _HTML2TEXT_CODE_MARK and i + 1 < len(lines) and lines[i + 1] == _HTML2TEXT_CODE_MARK:
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or (lines[j].strip() == "" and lines[j])):
                j += 1
            blocks.extend(_html2text_code(lines[i:j]))
            i = j
            continue
        blocks.append(_Block(line))
        i += 1
    return blocks


def _html2text_code(lines: list[str]) -> list[_Block]:
    """Dedent an html2text code block; runs of 2+ blank lines split separate `<pre>`s."""
    groups: list[list[str]] = [[]]
    blank_run = 0
    for line in lines:
        if line.strip() == "":
            blank_run += 1
            if blank_run == 2 and any(x.strip() for x in groups[-1]):
                groups.append([])
            if blank_run < 2:
                groups[-1].append("")
            continue
        blank_run = 0
        groups[-1].append(line[4:])
    blocks: list[_Block] = []
    for group in groups:
        code = "\n".join(group).strip("\n")
        if not code.strip():
            continue
        # the site's "copy" icon leaves `__` glued to the last line: `...)__`, never `x.__dict__`
        code = re.sub(r"(?<=[^\w\s])__$", "", code)
        blocks.append(_Block(""))
        blocks.append(_Block(fenced(normalize_code(code)), code=True))
        blocks.append(_Block(""))
    return blocks


def _join(blocks: Iterable[_Block]) -> str:
    """Blocks back to text; runs of blank prose lines become one (code keeps its own blank lines)."""
    lines: list[str] = []
    for block in blocks:
        if not block.code and not block.text.strip():
            if lines and lines[-1] != "":
                lines.append("")
            continue
        lines.append(block.text)
    return "\n".join(lines).strip("\n")


# --- prose line rules -----------------------------------------------------------------------

_HR = re.compile(r"^\s*([*_-])(\s*\1){2,}\s*$")
_EMPTY_HEADING = re.compile(r"^\s*#{1,6}\s*$")
_ESCAPED_MARK = re.compile(r"^(\s*)\\([-+*#>])")
_ESCAPED_NUMBER = re.compile(r"^(\s*\d+)\\\.")
#: html2text renders icon fonts as `__`: `* __LLM Course`, `__Copyright`, `Title __`
_ICON_LEAD = re.compile(r"^(\s*(?:[*+-]|\d+\.)?\s*)__(?=[A-Z\s]|$)(?!.*__)")
_ICON_TRAIL = re.compile(r"(?<=\S)\s*__$|(?<=\s)__$")
_ICON_MID = re.compile(r"(?<=\s)__(?=\s)")
_MULTISPACE = re.compile(r"(?<=\S)[ \t]{2,}")


def _clean_prose_line(line: str) -> str:
    line = normalize_prose(line).rstrip()
    if _HR.match(line) or _EMPTY_HEADING.match(line):
        return ""
    line = _ESCAPED_MARK.sub(r"\1\2", line)
    line = _ESCAPED_NUMBER.sub(r"\1.", line)
    line = _ICON_LEAD.sub(r"\1", line)
    line = _ICON_TRAIL.sub("", line)
    line = _ICON_MID.sub("", line)
    line = _MULTISPACE.sub(" ", line)
    if re.fullmatch(r"\s*(?:[*+-]|\d+\.)\s*", line):  # a bullet left without text
        return ""
    if "|" not in line and not re.search(r"\w", line):  # a stray "." or ">" left by removed images
        return ""
    return line.rstrip()


def _clean_lines(blocks: list[_Block]) -> list[_Block]:
    cleaned = [block if block.code else _Block(_clean_prose_line(block.text)) for block in blocks]
    return _join_wrapped_headings(cleaned)


_HEADING = re.compile(r"^#{1,6}\s+\S")


def _join_wrapped_headings(blocks: list[_Block]) -> list[_Block]:
    """html2text wraps long headings; a short single line glued below a heading is its tail."""
    out: list[_Block] = []
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if not block.code and _HEADING.match(block.text) and i + 1 < len(blocks):
            tail = blocks[i + 1]
            after = blocks[i + 2] if i + 2 < len(blocks) else _Block("")
            if (
                not tail.code
                and tail.text.strip()
                and not _HEADING.match(tail.text)
                and not _LIST_ITEM.match(tail.text)
                and _words(tail.text) <= 12
                and not after.text.strip()
            ):
                joiner = "" if block.text.endswith("-") else " "
                out.append(_Block(block.text + joiner + tail.text.strip()))
                i += 2
                continue
        out.append(block)
        i += 1
    return out


# --- boilerplate (site chrome) --------------------------------------------------------------

_MARKUP = re.compile(r"[*_`#>\[\]]+")
_SHARE_WORDS = frozenset(
    {
        "copy link", "facebook", "email", "note", "other", "share", "twitter", "x", "linkedin",
        "reddit", "whatsapp", "telegram", "pinterest", "print", "tweet", "share this",
        "share this post", "restack", "mastodon", "bluesky", "threads",
    }
)  # fmt: skip
#: site chrome that always ends the article: everything from it on is footer
_FOOTER_MARKERS = re.compile(
    r"discussion about this post|ready for more\?\s*$|this site requires javascript|"
    r"sign up to discover human stories|to make medium work, we log user data|"
    r"recommended from medium|^\s*(?:previous\s*next|previousnext)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_TOC_HEADING = re.compile(
    r"^(?:table of contents?|contents|sections|in this (?:article|post)|on this page)\s*:?$", re.I
)
_LIST_ITEM = re.compile(r"^\s*(?:[*+-]|\d+[.)])\s+\S")
_BYLINE_LABELS = frozenset({"author", "authors", "published", "modified", "updated", "date"})
_SITE_CHROME = frozenset(
    {
        "subscribe",
        "subscribesign in",
        "sign in",
        "sign up",
        "log in",
        "open in app",
        "follow",
        "listen",
        "share",
    }
)
#: Medium's byline: "·16 min read·Mar 16, 20242.1K13ListenShare"
_MEDIUM_BYLINE = re.compile(r"\d+\s*min read\s*·.{0,60}?(?:Listen)?\s*Share", re.DOTALL)


def plain(text: str) -> str:
    """Text stripped of markdown markup, casefolded and whitespace-collapsed (for comparisons)."""
    text = _MARKUP.sub(" ", unicodedata.normalize("NFKC", text)).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _words(text: str) -> int:
    return len(text.split())


def _drop_share_widgets(blocks: list[_Block]) -> list[_Block]:
    """Runs of share-button labels ("Copy link", "Facebook", ...) plus the card they belong to."""
    keep = [True] * len(blocks)
    i = 0
    while i < len(blocks):
        if not blocks[i].code and plain(blocks[i].text) in _SHARE_WORDS:
            j, labels = i, 0
            while j < len(blocks) and (blocks[j].text.strip() == "" or plain(blocks[j].text) in _SHARE_WORDS):
                labels += bool(blocks[j].text.strip())
                j += 1
            if labels >= 3:
                for k in range(i, j):
                    keep[k] = False
                # the card above the buttons: "Share this post" / "#### Title" / "site.com"
                k, seen = i - 1, 0
                while k >= 0 and seen <= 3 and not blocks[k].code:
                    if plain(blocks[k].text) in {"share this post", "share"}:
                        for m in range(k, i):
                            keep[m] = False
                        break
                    seen += bool(blocks[k].text.strip())
                    k -= 1
            i = max(j, i + 1)
            continue
        i += 1
    return [block for block, kept in zip(blocks, keep, strict=True) if kept]


def _cut_footer(blocks: list[_Block]) -> list[_Block]:
    """Drop everything from the first footer marker found in the last 60% of the text."""
    total = sum(len(block.text) + 1 for block in blocks)
    offset = 0
    for i, block in enumerate(blocks):
        if not block.code:
            for match in _FOOTER_MARKERS.finditer(block.text):
                if offset + match.start() >= 0.4 * total:
                    head = block.text[: match.start()].rstrip()
                    return [*blocks[:i], _Block(head)] if head else blocks[:i]
        offset += len(block.text) + 1
    return blocks


def _cut_medium_header(blocks: list[_Block]) -> list[_Block]:
    """Medium pages lose their line breaks: drop the nav + byline glued before "…min readShare"."""
    for i, block in enumerate(blocks[:5]):
        if block.code:
            continue
        match = _MEDIUM_BYLINE.search(block.text[:3000])
        if match:
            rest = block.text[match.end() :].lstrip()
            return [_Block(rest), *blocks[i + 1 :]] if rest else blocks[i + 1 :]
    return blocks


def _is_menu(prefix: list[_Block]) -> bool:
    """Short lines only (site name, bullets, icon labels): a menu, not an introduction."""
    lines = [block for block in prefix if block.text.strip()]
    return not any(block.code or _words(block.text) > 12 for block in lines)


def _title_index(blocks: list[_Block], title: str) -> int | None:
    """The heading that repeats the article title, within the first part of the document."""
    wanted = plain(title)
    if not wanted:
        return None
    limit = max(40, len(blocks) // 3)
    for i, block in enumerate(blocks[:limit]):
        if block.code or not block.text.lstrip().startswith("#"):
            continue
        heading = plain(block.text)
        if heading and len(heading) >= min(10, len(wanted)) and (heading in wanted or wanted in heading):
            return i
    return None


def _drop_leading_menu(blocks: list[_Block], title: str) -> tuple[list[_Block], bool]:
    """Drop the site navigation above the article. Returns (blocks, whether a title heading led)."""
    index = _title_index(blocks, title)
    if index is not None and _is_menu(blocks[:index]):
        return blocks[index + 1 :], True
    first_h1 = next((i for i, b in enumerate(blocks) if not b.code and re.match(r"^#\s+\S", b.text)), None)
    if first_h1:
        prefix = [b for b in blocks[:first_h1] if b.text.strip()]
        navish = sum(bool(_LIST_ITEM.match(b.text) or "__" in b.text) for b in prefix)
        if _is_menu(prefix) and navish >= max(2, len(prefix) // 2):
            return blocks[first_h1:], False
    return blocks, False


def _drop_byline(blocks: list[_Block], title: str, subtitle: str, author: str) -> list[_Block]:
    """Below the title: subtitle repeats, author name, date, like counts, "Author:"-style labels.

    Only the first few short lines are looked at; the scan stops at the first real paragraph.
    """
    known = {plain(x) for x in (title, subtitle, author)} - {""}
    meaningful = [i for i, block in enumerate(blocks) if block.text.strip()]
    drop: set[int] = set()
    for position, i in enumerate(meaningful[:12]):
        block = blocks[i]
        text = plain(block.text)
        if block.code or (_words(text) > 12 and text not in known):
            break
        following = plain(blocks[meaningful[position + 1]].text) if position + 1 < len(meaningful) else ""
        if text in _BYLINE_LABELS and position + 1 < len(meaningful):
            drop.update({i, meaningful[position + 1]})  # "Author" / "Maxime Labonne"
        elif (
            text in known
            or text in _SITE_CHROME
            or _date_like(text)
            or re.fullmatch(r"[\d.,]+[km]?", text)
            or (_words(text) <= 4 and _date_like(following))  # the author's name above the date
        ):
            drop.add(i)
    return [block for i, block in enumerate(blocks) if i not in drop]


def _date_like(text: str) -> bool:
    """A date as `plain()` leaves it: "jun 12 2024", "12 june 2024", "2024 06 12"."""
    return bool(re.fullmatch(r"[a-z]{3,9} \d{1,2} \d{4}|\d{1,2} [a-z]{3,9} \d{4}|\d{4} \d{2} \d{2}", text))


def _drop_tables_of_contents(blocks: list[_Block]) -> list[_Block]:
    """A "Table of contents"/"Sections" line and the list below it repeat the headings: drop them."""
    out: list[_Block] = []
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if not block.code and _TOC_HEADING.match(plain(block.text).strip()) and _words(block.text) <= 6:
            j = i + 1
            items = 0
            while j < len(blocks) and not blocks[j].code:
                if _LIST_ITEM.match(blocks[j].text) and _words(blocks[j].text) <= 25:
                    items += 1
                elif blocks[j].text.strip():
                    break
                j += 1
            if items >= 2:
                i = j
                continue
        out.append(block)
        i += 1
    return out


def _drop_nav_lists(blocks: list[_Block]) -> list[_Block]:
    """Long lists of short link labels (site sidebars): 8+ items of <= 7 words, no sentences."""
    out: list[_Block] = []
    i = 0
    while i < len(blocks):
        j, items, navlike = i, 0, True
        while (
            j < len(blocks)
            and not blocks[j].code
            and (_LIST_ITEM.match(blocks[j].text) or not blocks[j].text.strip())
        ):
            if blocks[j].text.strip():
                items += 1
                text = blocks[j].text
                if _words(text) > 7 or re.search(r"[.:;!?]\s*$|[.!?]\s", text):
                    navlike = False
            j += 1
        if items >= 8 and navlike:
            out.append(_Block(""))
            i = j
            continue
        if j > i:
            out.extend(blocks[i:j])
            i = j
            continue
        out.append(blocks[i])
        i += 1
    return out


def _drop_chrome_lines(blocks: list[_Block]) -> list[_Block]:
    return [b for b in blocks if b.code or plain(b.text) not in _SITE_CHROME]


def _drop_trailing_chrome(blocks: list[_Block]) -> list[_Block]:
    """Trailing like counts, share labels and copyright lines left above the footer."""
    while blocks:
        last = blocks[-1]
        text = plain(last.text)
        if last.code:
            break
        if (
            not text
            or text in _SHARE_WORDS
            or text in _SITE_CHROME
            or re.fullmatch(r"[\d.,]+[km]?", text)
            or (
                re.match(r"^(?:©|\(c\)|copyright)\s*\d{4}", last.text.strip().lstrip("_").lower())
                and _words(last.text) <= 8
            )
        ):
            blocks = blocks[:-1]
            continue
        break
    return blocks


# --- per category ---------------------------------------------------------------------------


def _text_field(content: dict[str, Any], *names: str) -> str:
    for name in names:
        value = content.get(name)
        if isinstance(value, str) and value.strip() and value.strip().lower() not in {"none", "null"}:
            return value
    return ""


def clean_title(title: str, author: str) -> str:
    """ "Maxime Labonne - X", "X - by Paul Iusztin", "X | Paul Iusztin" -> "X"."""
    title = " ".join(normalize_prose(title).split())
    if author:
        name = re.escape(author.strip())
        title = re.sub(rf"^{name}\s*[-–—|:]\s*", "", title, flags=re.I)
        title = re.sub(rf"\s*[-–—|]\s*(?:by\s+)?{name}$", "", title, flags=re.I)
    return title.strip()


def clean_text(text: str) -> str:
    """Generic cleaning of markdown-ish text: decoding fixes, unicode, code kept as code."""
    text = fix_mojibake(fix_newlines(text))
    return _join(_clean_lines(_split_blocks(text)))


def _has_meaning(text: str) -> bool:
    """Some text beyond headings: a page that is only a title and a menu has nothing to say."""
    body = re.sub(r"^#{1,6}[ \t][^\n]*$", "", text.replace("\ufffd", ""), flags=re.M)
    return bool(re.search(r"\w\w", body))


def clean_article_body(text: str, *, title: str, subtitle: str, author: str) -> str:
    """The article's own text: site navigation, share widgets, byline and footer removed."""
    text = fix_mojibake(fix_newlines(text))
    if garbage_ratio(text) > BINARY_GARBAGE_RATIO:
        return ""
    blocks = _clean_lines(_split_blocks(text))
    blocks = _cut_medium_header(blocks)
    blocks = _drop_share_widgets(blocks)
    blocks = _cut_footer(blocks)
    blocks, titled = _drop_leading_menu(blocks, title)
    if titled:
        blocks = _drop_byline(blocks, title, subtitle, author)
    blocks = _drop_tables_of_contents(blocks)
    blocks = _drop_nav_lists(blocks)
    blocks = _drop_chrome_lines(blocks)
    blocks = _drop_trailing_chrome(blocks)
    body = _join(blocks)
    # a subtitle repeated right below the title (as heading or emphasis) says nothing new
    lines = body.split("\n")
    while lines and (not lines[0].strip() or plain(lines[0]) in {plain(subtitle), plain(title)} - {""}):
        lines.pop(0)
    return "\n".join(lines).strip("\n")


def _clean_article(doc: ContentDocument) -> tuple[str, str]:
    content = doc.content
    title = clean_title(_text_field(content, "Title", "title"), doc.author_full_name)
    subtitle = " ".join(normalize_prose(_text_field(content, "Subtitle", "subtitle")).split())
    raw = _text_field(content, "Content", "content", "text")
    body = clean_article_body(raw, title=title, subtitle=subtitle, author=doc.author_full_name)
    if not _has_meaning(body):
        raise EmptyDocumentError(
            f"article {doc.link or doc.id} has no text left after cleaning (only navigation or empty): "
            "check the crawler's extraction for this site"
        )
    head = [f"# {title}"] if title else []
    if subtitle and plain(subtitle) != plain(title):
        head.append(subtitle)
    return title, "\n\n".join([*head, body])


def _clean_post(doc: ContentDocument) -> tuple[str, str]:
    raw = _text_field(doc.content, "text", "Content", "content")
    text = fix_mojibake(fix_newlines(raw))
    body = "" if garbage_ratio(text) > BINARY_GARBAGE_RATIO else clean_text(text)
    if not _has_meaning(body):
        raise EmptyDocumentError(f"post {doc.identity} has no text left after cleaning: nothing to embed")
    return "", body


#: file extension (or file name) -> fenced-code language
_LANGUAGES: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".ipynb": "json", ".js": "javascript", ".mjs": "javascript",
    ".jsx": "jsx", ".ts": "typescript", ".tsx": "tsx", ".java": "java", ".kt": "kotlin",
    ".scala": "scala", ".go": "go", ".rs": "rust", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp",
    ".hpp": "cpp", ".cs": "csharp", ".rb": "ruby", ".php": "php", ".swift": "swift", ".r": "r",
    ".jl": "julia", ".lua": "lua", ".sh": "bash", ".bash": "bash", ".zsh": "bash", ".ps1": "powershell",
    ".sql": "sql", ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss", ".md": "markdown",
    ".rst": "rst", ".txt": "text", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml",
    ".ini": "ini", ".cfg": "ini", ".xml": "xml", ".proto": "protobuf", ".tf": "hcl",
    ".dockerfile": "dockerfile", "dockerfile": "dockerfile", "makefile": "makefile", ".mk": "makefile",
    ".env": "bash",
}  # fmt: skip


def language_for(path: str) -> str:
    """Fenced-code language from a file name; "" when unknown."""
    name = PurePosixPath(path).name.lower()
    return _LANGUAGES.get(name) or _LANGUAGES.get(PurePosixPath(name).suffix, "")


def _clean_repository(doc: ContentDocument) -> tuple[str, str]:
    sections: list[str] = []
    for path in sorted(doc.content):
        raw = doc.content[path]
        text = raw if isinstance(raw, str) else str(raw)
        text = fix_newlines(text)
        if garbage_ratio(text) > BINARY_GARBAGE_RATIO:
            # keep the file visible (its path is searchable) without its undecodable bytes
            sections.append(f"## {path}\n\n(binary or undecodable content omitted)")
            continue
        code = normalize_code(text).strip("\n")
        body = fenced(code, language_for(path)) if code.strip() else "(empty file)"
        sections.append(f"## {normalize_code(path)}\n\n{body}")
    if not any(not s.endswith(("(empty file)", "content omitted)")) for s in sections):
        raise EmptyDocumentError(
            f"repository {doc.link or doc.id} has no readable text file: nothing to embed"
        )
    name = getattr(doc, "name", "") or ""
    return name, "\n\n".join(sections)


_CLEANERS: dict[type[ContentDocument], Callable[[ContentDocument], tuple[str, str]]] = {
    ArticleDocument: _clean_article,
    PostDocument: _clean_post,
    RepositoryDocument: _clean_repository,
}


def clean_document(doc: ContentDocument) -> CleanedDocument:
    """Clean one warehouse document by its category. Raises EmptyDocumentError if nothing is left."""
    cleaner = next((fn for kind, fn in _CLEANERS.items() if isinstance(doc, kind)), None)
    if cleaner is None:
        raise TypeError(
            f"no cleaner for {type(doc).__name__}: expected one of {[t.__name__ for t in _CLEANERS]}"
        )
    title, content = cleaner(doc)
    return CleanedDocument(
        id=doc.id,
        category=doc.category,
        platform=doc.platform,
        link=doc.link,
        author_id=doc.author_id,
        author_full_name=doc.author_full_name,
        title=title,
        content=content,
        source_hash=doc.content_hash,
    )

"""Markdown-ish text as blocks (prose lines, whole fenced code blocks) and the prose line rules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from llm_engineering.application.preprocessing.cleaning.text import normalize_code, normalize_prose, words


@dataclass
class Block:
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


def split_blocks(text: str) -> list[Block]:
    """Lines of prose, with fenced code blocks and html2text code blocks as whole blocks.

    html2text writes a `<pre>` as two or more lines holding exactly four spaces followed by the
    code indented by four spaces; those become fenced blocks (a run of 2+ blank lines inside
    separates two `<pre>`s). Plain indented markdown is left alone: it is ambiguous with lists.
    """
    lines = text.split("\n")
    blocks: list[Block] = []
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
            blocks.append(Block(fenced(normalize_code(body), opening.group(3).strip()), code=True))
            i = j + 1
            continue
        if line == _HTML2TEXT_CODE_MARK and i + 1 < len(lines) and lines[i + 1] == _HTML2TEXT_CODE_MARK:
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or (lines[j].strip() == "" and lines[j])):
                j += 1
            blocks.extend(_html2text_code(lines[i:j]))
            i = j
            continue
        blocks.append(Block(line))
        i += 1
    return blocks


def _html2text_code(lines: list[str]) -> list[Block]:
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
    blocks: list[Block] = []
    for group in groups:
        code = "\n".join(group).strip("\n")
        if not code.strip():
            continue
        # the site's "copy" icon leaves `__` glued to the last line: `...)__`, never `x.__dict__`
        code = re.sub(r"(?<=[^\w\s])__$", "", code)
        blocks.append(Block(""))
        blocks.append(Block(fenced(normalize_code(code)), code=True))
        blocks.append(Block(""))
    return blocks


def join_blocks(blocks: Iterable[Block]) -> str:
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


def clean_lines(blocks: list[Block]) -> list[Block]:
    cleaned = [block if block.code else Block(_clean_prose_line(block.text)) for block in blocks]
    return _join_wrapped_headings(cleaned)


_HEADING = re.compile(r"^#{1,6}\s+\S")
LIST_ITEM = re.compile(r"^\s*(?:[*+-]|\d+[.)])\s+\S")


def _join_wrapped_headings(blocks: list[Block]) -> list[Block]:
    """html2text wraps long headings; a short single line glued below a heading is its tail."""
    out: list[Block] = []
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if not block.code and _HEADING.match(block.text) and i + 1 < len(blocks):
            tail = blocks[i + 1]
            after = blocks[i + 2] if i + 2 < len(blocks) else Block("")
            if (
                not tail.code
                and tail.text.strip()
                and not _HEADING.match(tail.text)
                and not LIST_ITEM.match(tail.text)
                and words(tail.text) <= 12
                and not after.text.strip()
            ):
                joiner = "" if block.text.endswith("-") else " "
                out.append(Block(block.text + joiner + tail.text.strip()))
                i += 2
                continue
        out.append(block)
        i += 1
    return out

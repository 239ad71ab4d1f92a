"""Site chrome: navigation menus, share widgets, bylines, tables of contents, footers."""

from __future__ import annotations

import re

from llm_engineering.application.preprocessing.cleaning.blocks import LIST_ITEM, Block
from llm_engineering.application.preprocessing.cleaning.text import plain, words

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


def _drop_share_widgets(blocks: list[Block]) -> list[Block]:
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


def _cut_footer(blocks: list[Block]) -> list[Block]:
    """Drop everything from the first footer marker found in the last 60% of the text."""
    total = sum(len(block.text) + 1 for block in blocks)
    offset = 0
    for i, block in enumerate(blocks):
        if not block.code:
            for match in _FOOTER_MARKERS.finditer(block.text):
                if offset + match.start() >= 0.4 * total:
                    head = block.text[: match.start()].rstrip()
                    return [*blocks[:i], Block(head)] if head else blocks[:i]
        offset += len(block.text) + 1
    return blocks


def _cut_medium_header(blocks: list[Block]) -> list[Block]:
    """Medium pages lose their line breaks: drop the nav + byline glued before "…min readShare"."""
    for i, block in enumerate(blocks[:5]):
        if block.code:
            continue
        match = _MEDIUM_BYLINE.search(block.text[:3000])
        if match:
            rest = block.text[match.end() :].lstrip()
            return [Block(rest), *blocks[i + 1 :]] if rest else blocks[i + 1 :]
    return blocks


def _is_menu(prefix: list[Block]) -> bool:
    """Short lines only (site name, bullets, icon labels): a menu, not an introduction."""
    lines = [block for block in prefix if block.text.strip()]
    return not any(block.code or words(block.text) > 12 for block in lines)


def _title_index(blocks: list[Block], title: str) -> int | None:
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


def _drop_leading_menu(blocks: list[Block], title: str) -> tuple[list[Block], bool]:
    """Drop the site navigation above the article. Returns (blocks, whether a title heading led)."""
    index = _title_index(blocks, title)
    if index is not None and _is_menu(blocks[:index]):
        return blocks[index + 1 :], True
    first_h1 = next((i for i, b in enumerate(blocks) if not b.code and re.match(r"^#\s+\S", b.text)), None)
    if first_h1:
        prefix = [b for b in blocks[:first_h1] if b.text.strip()]
        navish = sum(bool(LIST_ITEM.match(b.text) or "__" in b.text) for b in prefix)
        if _is_menu(prefix) and navish >= max(2, len(prefix) // 2):
            return blocks[first_h1:], False
    return blocks, False


def _drop_byline(blocks: list[Block], title: str, subtitle: str, author: str) -> list[Block]:
    """Below the title: subtitle repeats, author name, date, like counts, "Author:"-style labels.

    Only the first few short lines are looked at; the scan stops at the first real paragraph.
    """
    known = {plain(x) for x in (title, subtitle, author)} - {""}
    meaningful = [i for i, block in enumerate(blocks) if block.text.strip()]
    drop: set[int] = set()
    for position, i in enumerate(meaningful[:12]):
        block = blocks[i]
        text = plain(block.text)
        if block.code or (words(text) > 12 and text not in known):
            break
        following = plain(blocks[meaningful[position + 1]].text) if position + 1 < len(meaningful) else ""
        if text in _BYLINE_LABELS and position + 1 < len(meaningful):
            drop.update({i, meaningful[position + 1]})  # "Author" / "Maxime Labonne"
        elif (
            text in known
            or text in _SITE_CHROME
            or _date_like(text)
            or re.fullmatch(r"[\d.,]+[km]?", text)
            or (words(text) <= 4 and _date_like(following))  # the author's name above the date
        ):
            drop.add(i)
    return [block for i, block in enumerate(blocks) if i not in drop]


def _date_like(text: str) -> bool:
    """A date as `plain()` leaves it: "jun 12 2024", "12 june 2024", "2024 06 12"."""
    return bool(re.fullmatch(r"[a-z]{3,9} \d{1,2} \d{4}|\d{1,2} [a-z]{3,9} \d{4}|\d{4} \d{2} \d{2}", text))


def _drop_tables_of_contents(blocks: list[Block]) -> list[Block]:
    """A "Table of contents"/"Sections" line and the list below it repeat the headings: drop them."""
    out: list[Block] = []
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if not block.code and _TOC_HEADING.match(plain(block.text).strip()) and words(block.text) <= 6:
            j = i + 1
            items = 0
            while j < len(blocks) and not blocks[j].code:
                if LIST_ITEM.match(blocks[j].text) and words(blocks[j].text) <= 25:
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


def _drop_nav_lists(blocks: list[Block]) -> list[Block]:
    """Long lists of short link labels (site sidebars): 8+ items of <= 7 words, no sentences."""
    out: list[Block] = []
    i = 0
    while i < len(blocks):
        j, items, navlike = i, 0, True
        while (
            j < len(blocks)
            and not blocks[j].code
            and (LIST_ITEM.match(blocks[j].text) or not blocks[j].text.strip())
        ):
            if blocks[j].text.strip():
                items += 1
                text = blocks[j].text
                if words(text) > 7 or re.search(r"[.:;!?]\s*$|[.!?]\s", text):
                    navlike = False
            j += 1
        if items >= 8 and navlike:
            out.append(Block(""))
            i = j
            continue
        if j > i:
            out.extend(blocks[i:j])
            i = j
            continue
        out.append(blocks[i])
        i += 1
    return out


def _drop_chrome_lines(blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.code or plain(b.text) not in _SITE_CHROME]


def _drop_trailing_chrome(blocks: list[Block]) -> list[Block]:
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
                and words(last.text) <= 8
            )
        ):
            blocks = blocks[:-1]
            continue
        break
    return blocks


def remove_page_chrome(blocks: list[Block], *, title: str, subtitle: str, author: str) -> list[Block]:
    """An article page's own text: the site's header, menus, widgets, byline and footer removed."""
    blocks = _cut_medium_header(blocks)
    blocks = _drop_share_widgets(blocks)
    blocks = _cut_footer(blocks)
    blocks, titled = _drop_leading_menu(blocks, title)
    if titled:
        blocks = _drop_byline(blocks, title, subtitle, author)
    blocks = _drop_tables_of_contents(blocks)
    blocks = _drop_nav_lists(blocks)
    blocks = _drop_chrome_lines(blocks)
    return _drop_trailing_chrome(blocks)

"""Per-category cleaners: articles, posts and repositories -> `CleanedDocument`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from llm_engineering.application.preprocessing.cleaning.blocks import (
    clean_lines,
    fenced,
    join_blocks,
    split_blocks,
)
from llm_engineering.application.preprocessing.cleaning.chrome import remove_page_chrome
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
    return join_blocks(clean_lines(split_blocks(text)))


def _has_meaning(text: str) -> bool:
    """Some text beyond headings: a page that is only a title and a menu has nothing to say."""
    body = re.sub(r"^#{1,6}[ \t][^\n]*$", "", text.replace("\ufffd", ""), flags=re.M)
    return bool(re.search(r"\w\w", body))


def clean_article_body(text: str, *, title: str, subtitle: str, author: str) -> str:
    """The article's own text: site navigation, share widgets, byline and footer removed."""
    text = fix_newlines(text)
    if garbage_ratio(text) > BINARY_GARBAGE_RATIO:  # before ftfy, which half-"repairs" binary
        return ""
    blocks = clean_lines(split_blocks(fix_mojibake(text)))
    blocks = remove_page_chrome(blocks, title=title, subtitle=subtitle, author=author)
    body = join_blocks(blocks)
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
    text = fix_newlines(raw)
    body = "" if garbage_ratio(text) > BINARY_GARBAGE_RATIO else clean_text(text)
    if not _has_meaning(body):
        raise EmptyDocumentError(f"post {doc.identity} has no text left after cleaning: nothing to embed")
    return "", body


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

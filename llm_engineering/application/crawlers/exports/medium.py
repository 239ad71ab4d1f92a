"""Medium's export: `posts/*.html`, one file per story, response and draft."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar

from loguru import logger

from llm_engineering.application.crawlers.base import article_document, checkpoint
from llm_engineering.application.crawlers.exports.archive import open_export
from llm_engineering.application.crawlers.exports.base import ExportImporter
from llm_engineering.application.crawlers.markup import code_blocks_to_markdown
from llm_engineering.application.crawlers.medium import canonical_link
from llm_engineering.domain.documents import ContentDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

_MEDIUM_HOWTO = "download it again from Medium (Settings > Security and apps > Download your information)"
# Medium repeats the title and subtitle inside the body, and draws dividers: drop those.
_MEDIUM_BODY_NOISE = ("h3.graf--title", "h4.graf--subtitle", "div.section-divider", "script", "style")


def _is_medium_post(name: str) -> bool:
    path = PurePosixPath(name)
    return path.suffix.lower() == ".html" and path.parent.name == "posts"


class MediumExportImporter(ExportImporter):
    """Medium's "Download your information" zip -> one ArticleDocument per published story."""

    name: ClassVar[str] = "medium_export"
    file_name_hint: ClassVar[str] = "medium"

    @classmethod
    def recognises(cls, names: list[str]) -> bool:
        return any(_is_medium_post(name) for name in names)

    def extract(self, link: str, user: UserDocument) -> list[ContentDocument]:
        documents: list[ContentDocument] = []
        drafts = replies = 0
        settings = self.context.settings
        with open_export(
            link,
            what="Medium export",
            howto=_MEDIUM_HOWTO,
            max_total_bytes=settings.EXPORT_MAX_TOTAL_BYTES,
            max_members=settings.EXPORT_MAX_MEMBERS,
        ) as archive:
            posts = [name for name in archive.names() if _is_medium_post(name)]
            if not posts:
                raise CrawlError(
                    ErrorKind.BAD_EXPORT,
                    f"Medium export {archive.path} holds no posts/*.html: point `exports` at the zip "
                    f"Medium emailed you (or its unpacked folder), or {_MEDIUM_HOWTO}",
                )
            for name in posts:
                checkpoint(f"Medium export {archive.path}")
                file_name = PurePosixPath(name).name
                if file_name.startswith("draft_"):
                    drafts += 1
                    continue
                parsed = parse_medium_post(archive.read(name), file_name)
                if parsed is None:
                    replies += 1
                    continue
                content, canonical, published = parsed
                documents.append(article_document(canonical, content, "medium", user, published=published))
        logger.info(
            "Medium export {}: {} article(s); skipped {} draft(s) and {} untitled response(s)",
            link,
            len(documents),
            drafts,
            replies,
        )
        return documents


def parse_medium_post(html: bytes, file_name: str) -> tuple[dict[str, Any], str, datetime | None] | None:
    """One exported post as (content, canonical link, published time); None for untitled responses."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    title_tag = soup.select_one("h1.p-name") or soup.select_one("header h1")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    if not title:
        return None  # a response to someone else's story: Medium exports those without a title
    subtitle_tag = soup.select_one('section[data-field="subtitle"]')
    body = soup.select_one('section[data-field="body"]') or _article_without_frame(soup)
    content = {
        "Title": title,
        "Subtitle": subtitle_tag.get_text(" ", strip=True) if subtitle_tag else None,
        "Content": medium_body_to_markdown(body) if body is not None else "",
        "language": "en",
    }
    canonical_tag = soup.select_one("a.p-canonical")
    href = str(canonical_tag.get("href") or "") if canonical_tag else ""
    canonical = canonical_link(href) if href.startswith(("http://", "https://")) else None
    return content, canonical or f"medium-export://{file_name}", _published(soup)


def _article_without_frame(soup: BeautifulSoup) -> Tag | None:
    article = soup.find("article")
    if article is None:
        return None
    for tag in article.find_all(["header", "footer"]):
        tag.decompose()
    return article


def _published(soup: BeautifulSoup) -> datetime | None:
    tag = soup.select_one("time.dt-published")
    value = str(tag.get("datetime") or "") if tag else ""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        logger.warning("Medium export: unreadable publication time {!r}; using the import time", value)
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def medium_body_to_markdown(body: Tag) -> str:
    """The story body as markdown: headings, lists, links and fenced code (with its language)."""
    from bs4 import BeautifulSoup

    root = BeautifulSoup(str(body), "lxml")
    for tag in root.select(", ".join(_MEDIUM_BODY_NOISE)):
        if not tag.decomposed:
            tag.decompose()
    return code_blocks_to_markdown(root.body or root, escape_underscores=False, escape_asterisks=False)

"""Code blocks of every common blog generator survive extraction: each line in a fenced block with
its indentation, no line numbers, no copy buttons or labels, and the prose around it kept.

The corpus (tests/fixtures/code_blocks/) holds the markup each generator emits for the same
snippet: Quarto/pandoc, Jekyll rouge (plain and table), Hugo chroma (plain, inline numbers, table),
WordPress SyntaxHighlighter / Prism / Enlighter (raw, v2, v3), Ghost, Docusaurus (span and div
lines), mkdocs-material, Sphinx, dev.to and Hashnode.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llm_engineering.application.crawlers.custom_article import CustomArticleCrawler
from llm_engineering.application.crawlers.extraction import html_fragment_to_markdown, html_to_article
from llm_engineering.application.crawlers.markup import code_blocks_to_markdown, parse_html
from tests.integration.crawlers_http.servers import FixtureHandler, FixtureServer

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "code_blocks"
GENERATORS = sorted(path.stem for path in CORPUS.glob("*.html"))
HOST = "code.blog.test"

CODE = 'def greet(name):\n    if name:\n        return f"Hello, {name}!"\n\n    return "Hello!"'
BEFORE = "Before the code, we define a small greeting helper that handles empty names gracefully."
AFTER = "After the code, notice how the early return keeps the happy path unindented and readable."
#: generators whose markup names no language for the block
NO_LANGUAGE = {"wordpress_enlighter_v3"}
#: text that must never reach the stored article
CHROME = ("Copy", "Copied", "clipboard", "fullscreen", "Toggle", "Plain text", "Open code", "EnlighterJS")
MENU_WORDS = ("CodeBlogHomeLink", "CodeBlogFooterNote")


def page(generator: str) -> str:
    """A whole blog page around the generator's article body: menus, header and footer too."""
    body = (CORPUS / f"{generator}.html").read_text()
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Greeting helpers ({generator})</title></head><body>"
        '<header><nav><a href="/">CodeBlogHomeLink</a> <a href="/archive">Archive</a></nav></header>'
        f"<main><article><h1>Greeting helpers</h1>{body}</article></main>"
        "<footer><p>CodeBlogFooterNote, all rights reserved.</p></footer></body></html>"
    )


def assert_code_kept(markdown: str, generator: str) -> None:
    fences = re.findall(r"^```([\w+#.-]*)\n(.*?)\n```$", markdown, re.S | re.M)
    assert fences, f"{generator}: no fenced block in\n{markdown}"
    language, code = fences[0]
    assert code == CODE, f"{generator}: code block is\n{code!r}\nin\n{markdown}"
    assert language == ("" if generator in NO_LANGUAGE else "python"), generator
    assert BEFORE in markdown and AFTER in markdown, f"{generator}: prose lost in\n{markdown}"
    assert markdown.index(BEFORE) < markdown.index(CODE) < markdown.index(AFTER), generator
    outside = markdown.replace(CODE, "")
    for word in CHROME:
        assert word.lower() not in outside.lower(), f"{generator}: {word!r} left in\n{markdown}"
    assert not re.search(r"^\s*\d+\s*$", markdown, re.M), f"{generator}: line numbers in\n{markdown}"


@pytest.mark.parametrize("generator", GENERATORS)
class TestEveryGenerator:
    def test_article_extraction(self, generator: str) -> None:
        article = html_to_article(page(generator), f"https://{HOST}/{generator}")
        assert_code_kept(article["Content"], generator)
        for word in MENU_WORDS:
            assert word not in article["Content"]

    def test_feed_fragment(self, generator: str) -> None:
        markdown = html_fragment_to_markdown((CORPUS / f"{generator}.html").read_text())
        assert_code_kept(markdown, generator)

    def test_shared_markdown_conversion(self, generator: str) -> None:
        soup = parse_html(page(generator))
        assert_code_kept(code_blocks_to_markdown(soup.body), generator)


def test_second_block_of_a_page_is_kept_too() -> None:
    article = html_to_article(page("mkdocs_material"), f"https://{HOST}/mkdocs")
    assert "```bash\npip install greeter\n```" in article["Content"]
    assert "Install it first; the second block below has no line numbers at all." in article["Content"]


def test_blank_lines_inside_code_are_kept() -> None:
    html = page("ghost").replace("\n\n    return", "\n\n\n    return")
    article = html_to_article(html, f"https://{HOST}/ghost")
    assert CODE.replace("\n\n", "\n\n\n") in article["Content"]


def test_line_number_like_text_outside_code_is_kept() -> None:
    html = page("ghost").replace(BEFORE, f'{BEFORE}</p><p class="gutter">42</p><p>')
    article = html_to_article(html, f"https://{HOST}/ghost")
    assert "42" in article["Content"]


def _route(generator: str):
    def serve(handler: FixtureHandler) -> None:
        handler.send_body(200, page(generator).encode(), "text/html; charset=utf-8")

    return serve


@pytest.fixture
def corpus_server():
    server = FixtureServer(routes={f"/posts/{name}": _route(name) for name in GENERATORS}).start()
    yield server
    server.stop()


def test_generic_article_crawler_keeps_every_code_block(make_context, corpus_server, user) -> None:
    context = make_context(hosts={HOST: corpus_server.port})
    crawler = CustomArticleCrawler(context)
    for generator in GENERATORS:
        [document] = crawler.extract(f"https://{HOST}/posts/{generator}", user)
        assert document.content["Title"] == "Greeting helpers"
        assert_code_kept(document.content["Content"], generator)
    assert corpus_server.count("/posts/quarto") == 1

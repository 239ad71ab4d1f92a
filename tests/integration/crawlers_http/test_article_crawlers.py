"""CustomArticleCrawler and SubstackCrawler against fixture sites behind real host names."""

from __future__ import annotations

import pytest

from llm_engineering.application.crawlers.custom_article import CustomArticleCrawler
from llm_engineering.application.crawlers.extraction import html_to_article
from llm_engineering.application.crawlers.substack import SubstackCrawler
from llm_engineering.domain.documents import ArticleDocument
from llm_engineering.domain.exceptions import CrawlError, ErrorKind
from tests.integration.crawlers_http.conftest import BLOG_HOST, SITES, SUBSTACK_HOST

MENU_WORDS = (
    "HomeMenuEntry",
    "ArchiveMenuEntry",
    "SidebarLinkOne",
    "FooterCopyrightLine",
    "PrivacyFooterLink",
)
POSTS = {
    f"https://{SUBSTACK_HOST}/p/post-one": "Vector databases without the hype",
    f"https://{SUBSTACK_HOST}/p/post-two": "Chunking strategies that work",
    f"https://{SUBSTACK_HOST}/p/post-three": "Evaluating retrieval honestly",
}


class TestBlogArticle:
    def test_keeps_headings_and_code_and_drops_menus(self, make_context, blog_server, user) -> None:
        context = make_context(hosts={BLOG_HOST: blog_server.port})
        link = f"https://{BLOG_HOST}/posts/ownership.html"
        [document] = CustomArticleCrawler(context).extract(link, user)
        assert isinstance(document, ArticleDocument)
        assert document.link == link
        assert document.platform == BLOG_HOST
        assert document.author_id == user.id
        assert document.author_full_name == "Test Person"
        content = document.content
        assert set(content) == {"Title", "Subtitle", "Content", "language"}
        assert content["Title"] == "Understanding Ownership in Rust"
        assert content["Subtitle"] == "How the borrow checker keeps memory safe without a garbage collector"
        assert content["language"] == "en"
        text = content["Content"]
        assert "## The three rules" in text
        assert "### Borrowing instead of moving" in text
        assert "- Each value in Rust has an owner." in text
        assert '```rust\nfn main() {\n    let s1 = String::from("hello");' in text
        assert "[the Rust book](https://doc.rust-lang.org/book/)" in text
        for word in MENU_WORDS:
            assert word not in text

    def test_page_with_only_menus_has_no_content(self, make_context, blog_server, user) -> None:
        context = make_context(hosts={BLOG_HOST: blog_server.port})
        link = f"https://{BLOG_HOST}/menu-only.html"
        with pytest.raises(CrawlError) as caught:
            CustomArticleCrawler(context).extract(link, user)
        assert caught.value.kind is ErrorKind.NO_CONTENT
        assert link in str(caught.value)

    def test_markdownify_fallback_keeps_code_language(self) -> None:
        html = (SITES / "substack" / "p" / "post-three.html").read_text()
        article = html_to_article(html, f"https://{SUBSTACK_HOST}/p/post-three")
        assert "def recall_at_k(hits, relevant, k=10):" in article["Content"]
        assert "SubstackFooterText" not in article["Content"]


class TestSubstack:
    def test_publication_root_crawls_every_feed_entry(self, make_context, substack_server, user) -> None:
        context = make_context(hosts={SUBSTACK_HOST: substack_server.port})
        documents = SubstackCrawler(context).extract(f"https://{SUBSTACK_HOST}/", user)
        assert {doc.link: doc.content["Title"] for doc in documents} == POSTS
        assert {doc.platform for doc in documents} == {"substack"}
        by_link = {doc.link: doc.content for doc in documents}
        one = by_link[f"https://{SUBSTACK_HOST}/p/post-one"]
        assert one["Subtitle"] == "What an index really buys you"
        assert one["language"] == "en"
        assert "## When an index pays off" in one["Content"]
        assert "index = build_hnsw(vectors, m=16)" in one["Content"]
        three = by_link[f"https://{SUBSTACK_HOST}/p/post-three"]
        assert "def recall_at_k" in three["Content"]
        assert "SubscribeNavButton" not in three["Content"]
        # Entries carrying full content are not fetched again; the one without is.
        assert substack_server.count("/feed") == 1
        assert substack_server.count("/p/post-one") == 0
        assert substack_server.count("/p/post-two") == 0
        assert substack_server.count("/p/post-three") == 1

    def test_single_post(self, make_context, substack_server, user) -> None:
        context = make_context(hosts={SUBSTACK_HOST: substack_server.port})
        link = f"https://{SUBSTACK_HOST}/p/post-two"
        [document] = SubstackCrawler(context).extract(link, user)
        assert document.link == link
        assert document.platform == "substack"
        assert document.content["Title"] == "Chunking strategies that work"
        assert "Never split inside a code block." in document.content["Content"]
        assert substack_server.count("/feed") == 0

    def test_max_articles_option(self, make_context, substack_server, user) -> None:
        context = make_context(
            hosts={SUBSTACK_HOST: substack_server.port}, options={"article": {"max_articles": 2}}
        )
        documents = SubstackCrawler(context).extract(f"https://{SUBSTACK_HOST}/", user)
        assert [doc.link for doc in documents] == list(POSTS)[:2]

    def test_not_a_publication(self, make_context, blog_server, user) -> None:
        context = make_context(hosts={"notsubstack.test": blog_server.port})
        with pytest.raises(CrawlError) as caught:
            SubstackCrawler(context).extract("https://notsubstack.test/", user)
        assert caught.value.kind is ErrorKind.HTTP_4XX
        assert "https://notsubstack.test/feed" in str(caught.value)


class TestFeedsThroughTheGenericCrawler:
    def test_root_advertising_a_feed_is_crawled_through_it(self, make_context, substack_server, user) -> None:
        context = make_context(hosts={SUBSTACK_HOST: substack_server.port})
        documents = CustomArticleCrawler(context).extract(f"https://{SUBSTACK_HOST}/", user)
        assert [doc.link for doc in documents] == list(POSTS)
        assert {doc.platform for doc in documents} == {SUBSTACK_HOST}
        assert substack_server.count("/") == 1

    def test_feed_link_directly(self, make_context, substack_server, user) -> None:
        context = make_context(hosts={SUBSTACK_HOST: substack_server.port})
        documents = CustomArticleCrawler(context).extract(f"https://{SUBSTACK_HOST}/feed", user)
        assert [doc.content["Title"] for doc in documents] == list(POSTS.values())
        assert all(doc.author_full_name == "Test Person" for doc in documents)

"""Cleaning rules, on small documents shaped like the crawled handbook corpus."""

from __future__ import annotations

import random
import uuid

import pytest

from llm_engineering.application.preprocessing.cleaning import (
    EmptyDocumentError,
    clean_document,
    clean_text,
    clean_title,
    fence_for,
    language_for,
)
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument
from llm_engineering.domain.types import DataCategory

AUTHOR = uuid.UUID("eff74089-0271-4319-8543-745c087f4f61")

SUBSTACK = """# Maxime Labonne

SubscribeSign in

Share this post

#### Uncensor any LLM with abliteration

maximelabonne.substack.com

Copy link

Facebook

Email

Note

Other

# Uncensor any LLM with abliteration

### Fine-tuning without retraining

Maxime Labonne

Jun 12, 2024

14

Share this post

#### Uncensor any LLM with abliteration

maximelabonne.substack.com

Copy link

Facebook

Email

Note

Other

Share

### **Table of Contents:**

  1. What is abliteration

  2. Implementation

* * *

### ✂️ What is abliteration?

Modern LLMs are fine-tuned for safety. Here is the 𝘁𝗲𝗰𝗵 𝘀𝘁𝗮𝗰𝗸 we use,\u200b see
https://github.com/FailSpy/abliterator for the code.

  * **Data Collection** : run the model on harmful instructions.
  * **Mean difference** : calculate the mean difference.

\\- Real-time Data Syncing
1\\. The source database

\x20\x20\x20\x20
\x20\x20\x20\x20
    def direction(harmful, harmless):
        return harmful.mean(0) - harmless.mean(0)__

That's it for today.

Share this post

#### Uncensor any LLM with abliteration

maximelabonne.substack.com

Copy link

Facebook

Email

Note

Other

Share

PreviousNext

#### Discussion about this post

Comments

Restacks

Ready for more?

Subscribe

© 2024 Maxime Labonne

Privacy ∙ Terms ∙ Collection notice

This site requires JavaScript to run correctly. Please turn on JavaScript or
unblock scripts
"""

GITHUB_IO = """Maxime Labonne

  * __LLM Course
  * __Hands-On GNNs
  * __Research
  * __About

  * __
  * __

__

# Fine-tune Llama 3.1 Ultra-Efficiently with Unsloth

A beginner’s guide to state-of-the-art supervised fine-tuning

Author

Maxime Labonne

Published

July 29, 2024

  * Fine-tune Llama 2 in Colab

  * Fine-tune Llama 2 in Axolotl

  * Fine-tune Mistral-7b with DPO

  * Fine-tune Llama 3 with ORPO

  * Merge LLMs with mergekit

  * Create Mixture of Experts

  * Uncensor any LLM

  * * * *

  * Intro to Quantization

  * Quantization with GPTQ

## **Sections**

  * 🔧 Supervised Fine-Tuning
  * Conclusion

The recent release of Llama 3.1 offers models with an incredible level of
performance.

## 🔧 Supervised Fine-Tuning

Supervised Fine-Tuning (SFT) is a method to improve pre-trained LLMs.

__Copyright 2023, Maxime Labonne
"""

MEDIUM = (
    "End-to-End Framework | Decoding MLOpen in appSign upSign inWriteSign upSign inTop highlight"
    "An End-to-End FrameworkFrom data gathering to production.Paul Iusztin·FollowPublished in"
    "Decoding ML·16 min read·Mar 16, 20242.1K13ListenShareWhat is your LLM Twin? It is an AI character "
    "that writes like yourself. " + "It uses your own voice and style. " * 40 + "Sign up to discover human "
    "stories that deepen your understanding of the world.FreeMembershipFollowWritten by Paul Iusztin"
    "\n\n\n\nTo make Medium work, we log user data."
)


def article(
    content: str, title: str = "Uncensor any LLM with abliteration - Maxime Labonne", subtitle="None"
):
    return ArticleDocument(
        content={"Title": title, "Subtitle": subtitle, "Content": content, "language": "en"},
        platform="substack",
        link="https://example.substack.com/p/x",
        author_id=AUTHOR,
        author_full_name="Maxime Labonne",
    )


@pytest.fixture(scope="module")
def substack():
    return clean_document(article(SUBSTACK, subtitle="Fine-tuning without retraining"))


def test_substack_chrome_is_stripped(substack):
    text = substack.content
    for chrome in (
        "SubscribeSign in",
        "Copy link",
        "Facebook",
        "Share this post",
        "Restacks",
        "JavaScript",
        "PreviousNext",
        "© 2024",
        "Jun 12, 2024",
        "Table of Contents",
        "Discussion about",
    ):
        assert chrome not in text, f"{chrome!r} survived cleaning"
    assert text.startswith("# Uncensor any LLM with abliteration\n\nFine-tuning without retraining\n\n")
    assert text.count("Uncensor any LLM with abliteration") == 1
    assert text.rstrip().endswith("That's it for today.")
    assert substack.title == "Uncensor any LLM with abliteration"
    assert substack.category is DataCategory.ARTICLES
    assert substack.source_hash == article(SUBSTACK, subtitle="Fine-tuning without retraining").content_hash


def test_meaning_is_kept(substack):
    text = substack.content
    assert "### ✂️ What is abliteration?" in text  # heading
    assert "https://github.com/FailSpy/abliterator" in text  # URL intact
    assert "  * **Data Collection** : run the model on harmful instructions." in text  # list
    assert "\n\n" in text  # paragraph breaks
    assert "- Real-time Data Syncing" in text and "1. The source database" in text  # html2text escapes undone


def test_html2text_code_becomes_a_fenced_block(substack):
    assert "```\ndef direction(harmful, harmless):\n    return harmful.mean(0) - harmless.mean(0)\n```" in (
        substack.content
    )


def test_unicode_bold_and_zero_width_are_normalised(substack):
    assert "tech stack" in substack.content
    assert "𝘁" not in substack.content and "\u200b" not in substack.content


def test_github_io_menu_byline_sidebar_and_toc_are_stripped():
    cleaned = clean_document(
        article(GITHUB_IO, title="Maxime Labonne - Fine-tune Llama 3.1 Ultra-Efficiently with Unsloth")
    )
    text = cleaned.content
    for chrome in (
        "__",
        "LLM Course",
        "Hands-On GNNs",
        "Published",
        "July 29",
        "Fine-tune Llama 2 in Colab",
        "Sections",
        "Copyright",
    ):
        assert chrome not in text, f"{chrome!r} survived cleaning"
    assert text.startswith("# Fine-tune Llama 3.1 Ultra-Efficiently with Unsloth\n\n")
    assert "A beginner’s guide to state-of-the-art supervised fine-tuning" in text
    assert "## 🔧 Supervised Fine-Tuning\n\nSupervised Fine-Tuning (SFT) is a method" in text


def test_medium_header_and_footer_are_stripped():
    cleaned = clean_document(article(MEDIUM, title="An End-to-End Framework", subtitle="From data gathering"))
    text = cleaned.content
    assert text.startswith("# An End-to-End Framework\n\nFrom data gathering\n\nWhat is your LLM Twin?")
    for chrome in ("Open in app", "min read", "Sign up to discover", "Written by", "log user data"):
        assert chrome not in text
    assert text.endswith("It uses your own voice and style.")


def test_fenced_code_is_kept_verbatim_without_nfkc():
    code = '```python\nx² = "ﬁle"  # keep\n\n\n\nprint(x²)\n```'
    text = clean_text(f"𝗛𝗲𝗹𝗹𝗼 ﬁne\n\n{code}\n\nafter\x00 text")
    assert code in text  # no NFKC, blank lines kept inside code
    assert text.startswith("Hello fine")
    assert "after text" in text


def test_double_underscore_emphasis_is_not_an_icon():
    assert clean_text("* __Important__: keep it") == "* __Important__: keep it"


def test_control_characters_and_blank_runs():
    text = clean_text("a\x07b\x1bc\r\nline\twith tab\n\n\n\n\nnext\u2028line\ufeff")
    assert text == "abc\nline\twith tab\n\nnext\nline"


def test_mojibake_is_repaired():
    assert clean_text("It’s a café") == "It’s a café"
    assert clean_text("Itâ€™s a cafÃ© â€” â€œquotedâ€\x9d") == "It’s a café — “quoted”"
    assert clean_text("ItÃ¢Â€Â™s twice") == "It’s twice"  # decoded wrongly two times
    assert clean_text("naïve Ångström, 5 € — already right") == "naïve Ångström, 5 € — already right"
    assert clean_text("ItÃ¢Â€Â™s") == clean_text("ItÃ¢Â€Â™s")  # stays deterministic when unfixable


def test_binary_garbage_article_raises():
    garbage = "\ufffd\ufffd\x00\x01" * 500 + "ok"
    with pytest.raises(EmptyDocumentError, match="no text left"):
        clean_document(article(garbage))


def test_binary_read_as_latin1_is_garbage_even_though_ftfy_could_half_repair_it():
    garbage = random.Random(3).randbytes(4096).decode("latin-1")
    with pytest.raises(EmptyDocumentError, match="no text left"):
        clean_document(article(garbage))
    post = PostDocument(
        content={"text": garbage}, platform="linkedin", post_id="9", author_id=AUTHOR, author_full_name="A"
    )
    with pytest.raises(EmptyDocumentError, match="no text left"):
        clean_document(post)


def test_replacement_runs_are_collapsed_in_prose():
    assert clean_text("caf\ufffd\ufffd\ufffd au lait") == "caf\ufffd au lait"


def test_menu_only_article_raises():
    with pytest.raises(EmptyDocumentError):
        clean_document(article(GITHUB_IO.split("A beginner")[0] + "__Copyright 2023, Maxime Labonne\n"))


def test_empty_error_is_a_value_error():
    assert issubclass(EmptyDocumentError, ValueError)


def test_post_is_cleaned():
    post = PostDocument(
        content={"text": "𝗛𝘆𝗯𝗿𝗶𝗱 𝘀𝗲𝗮𝗿𝗰𝗵 is standard.\u200b\n\n\n\n↓↓↓\n\nhttps://qdrant.tech/articles/"},
        platform="linkedin",
        post_id="123",
        author_id=AUTHOR,
        author_full_name="Paul Iusztin",
    )
    cleaned = clean_document(post)
    assert cleaned.content == "Hybrid search is standard.\n\nhttps://qdrant.tech/articles/"
    assert cleaned.category is DataCategory.POSTS
    with pytest.raises(EmptyDocumentError):
        clean_document(post.model_copy(update={"content": {"text": " \u200b\n"}}))


def test_repository_files_become_fenced_sections():
    repo = RepositoryDocument(
        content={
            "src/app.py": "def f():\r\n    return '```'\n",
            "README.md": "# Title\n\n```bash\npip install x\n```\n",
            "Dockerfile": "FROM python:3.11\n",
            "data/blob.bin": "\ufffd\x00\ufffd\ufffd" * 100,
            "empty.txt": "",
        },
        platform="github",
        link="https://github.com/a/b",
        name="b",
        author_id=AUTHOR,
        author_full_name="Ada",
    )
    cleaned = clean_document(repo)
    text = cleaned.content
    assert cleaned.title == "b"
    assert text.index("## Dockerfile") < text.index("## README.md") < text.index("## src/app.py")
    assert "## src/app.py\n\n````python\ndef f():\n    return '```'\n````" in text  # fence outgrows ```
    assert "## README.md\n\n````markdown\n# Title\n\n```bash\npip install x\n```\n````" in text
    assert "```dockerfile\nFROM python:3.11\n```" in text
    assert "## data/blob.bin\n\n(binary or undecodable content omitted)" in text
    assert "## empty.txt" in text  # nothing the crawler kept is skipped


def test_repository_with_only_garbage_raises():
    repo = RepositoryDocument(
        content={"a.bin": "\ufffd" * 50},
        platform="github",
        link="https://github.com/a/b",
        name="b",
        author_id=AUTHOR,
        author_full_name="Ada",
    )
    with pytest.raises(EmptyDocumentError, match="no readable text"):
        clean_document(repo)


def test_helpers():
    assert clean_title("Real-time feature pipelines for RAG - by Paul Iusztin", "Paul Iusztin") == (
        "Real-time feature pipelines for RAG"
    )
    assert language_for("pkg/mod.py") == "python" and language_for("Makefile") == "makefile"
    assert language_for("notes.unknownext") == ""
    assert fence_for("a ```` b") == "`````"

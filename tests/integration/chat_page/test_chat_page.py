"""The chat page in headless Chromium: it streams the answer in, shows the sources as links, keeps
the conversation, stops a long answer (and the server stops generating), sends the API key, and
renders markdown without letting HTML through."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.integration.api.conftest import Corpus, Server, make_settings, twin_app
from tests.integration.api.tiny_llm import TinyLlama
from tests.integration.chat_page.conftest import RecordingLLM
from tests.integration.crawlers_browser.sites import needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

QUESTION = "What does Paul Iusztin say about feature stores?"
NEW_TAB = 'target="_blank" rel="noopener noreferrer"'

#: the last answer's state: its text, whether it is still streaming, finished or stopped
_LAST_ANSWER = """
const boxes = document.querySelectorAll('.msg.assistant');
const box = boxes[boxes.length - 1];
if (!box) return null;
return {text: box.querySelector('.content').textContent, streaming: box.classList.contains('streaming'),
        done: box.classList.contains('done'), stopped: box.classList.contains('stopped'),
        notice: Array.from(box.querySelectorAll('.notice')).map(n => n.textContent).join(' ')};
"""


@pytest.fixture(scope="module")
def chat(
    corpus: tuple[Corpus, dict[str, str]], tiny_llm: TinyLlama, embedder: Any, serve: Callable[..., Server]
) -> tuple[Server, RecordingLLM]:
    store, _ = corpus
    llm = RecordingLLM(tiny_llm)
    server = serve(twin_app(store.settings, llm, embedder, max_tokens_limit=512, default_max_tokens=24))
    server.wait_ready()
    return server, llm


def open_page(driver: Any, server: Server) -> None:
    driver.get(server.url + "/")
    assert driver.title == "LLM Twin"
    assert driver.execute_script("return typeof window.llmTwin") == "object"


def ask(driver: Any, question: str, *, max_tokens: int | None = None) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element(By.ID, "max-tokens")
    field.clear()
    if max_tokens is not None:
        field.send_keys(str(max_tokens))
    driver.find_element(By.ID, "question").send_keys(question, Keys.ENTER)


def watch(driver: Any, until: Callable[[dict], bool], timeout: float = 60) -> list[dict]:
    """Snapshots of the last answer, every ~20 ms, until `until(snapshot)` holds."""
    snapshots: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = driver.execute_script(_LAST_ANSWER)
        if state is not None:
            snapshots.append(state)
            if until(state):
                return snapshots
        time.sleep(0.02)
    raise AssertionError(f"the page never got there; last state: {snapshots[-1:] or None}")


def test_the_answer_streams_in_with_sources_and_the_conversation_is_kept(
    driver: Any, chat: tuple[Server, RecordingLLM], corpus: tuple[Corpus, dict[str, str]]
) -> None:
    from selenium.webdriver.common.by import By

    server, llm = chat
    llm.per_token_s = 0.03
    open_page(driver, server)
    ask(driver, QUESTION, max_tokens=30)
    snapshots = watch(driver, lambda s: s["done"] or s["stopped"])
    assert snapshots[-1]["done"] and not snapshots[-1]["notice"], snapshots[-1]

    # the text grew token by token while the answer was streaming, never shrinking
    growing = [len(s["text"]) for s in snapshots if s["streaming"] and s["text"]]
    assert len(set(growing)) >= 5, growing
    assert growing == sorted(growing)

    # what the page put together is exactly the service's (deterministic) answer
    history = driver.execute_script("return window.llmTwin.history")
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[0]["content"] == QUESTION
    whole = server.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}], "max_tokens": 30}
    ).json()
    assert history[1]["content"] == whole["choices"][0]["message"]["content"]

    # the sources are links to the articles, in the service's order, Paul's feature-store article first
    _, links = corpus
    anchors = driver.find_elements(By.CSS_SELECTOR, ".msg.assistant .sources li a")
    assert [a.get_attribute("href") for a in anchors] == [s["link"] for s in whole["sources"]]
    assert [a.text for a in anchors] == [s["title"] for s in whole["sources"]]
    assert anchors[0].get_attribute("href") == links["feature-stores"]
    assert anchors[0].get_attribute("rel") == "noopener noreferrer"

    # a follow-up question sends the whole conversation
    ask(driver, "And what is a feature store for?", max_tokens=8)
    watch(driver, lambda s: s["done"] or s["stopped"])
    sent = llm.requests[-1]
    first_turn = [("user", QUESTION), ("assistant", history[1]["content"])]
    assert [(m.role, m.content) for m in sent[1:3]] == first_turn
    assert sent[-1].role == "user" and "And what is a feature store for?" in sent[-1].content
    assert len(driver.execute_script("return window.llmTwin.history")) == 4


def test_stop_ends_a_long_answer_and_the_server_stops_generating(
    driver: Any, chat: tuple[Server, RecordingLLM]
) -> None:
    from selenium.webdriver.common.by import By

    server, llm = chat
    llm.per_token_s = 0.05  # 400 tokens would take 20 s
    ended_before = len(llm.ended)
    open_page(driver, server)
    ask(driver, QUESTION, max_tokens=400)
    watch(driver, lambda s: s["streaming"] and len(s["text"]) > 10)
    driver.find_element(By.ID, "stop").click()
    final = watch(driver, lambda s: s["stopped"], timeout=10)[-1]
    assert "Stopped" in final["notice"]
    time.sleep(0.5)
    assert driver.execute_script(_LAST_ANSWER)["text"] == final["text"]  # nothing more arrives

    # the server noticed the client went away and closed the generation early
    deadline = time.monotonic() + 10
    while len(llm.ended) == ended_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert llm.ended[ended_before:] and llm.ended[ended_before]["finished"] is False
    assert llm.ended[ended_before]["deltas"] < 400

    # the page is ready for the next question; the partial answer stays in the conversation
    assert driver.find_element(By.ID, "send").is_enabled()
    assert not driver.find_element(By.ID, "stop").is_enabled()
    history = driver.execute_script("return window.llmTwin.history")
    assert history[-1]["role"] == "assistant" and history[-1]["content"]


def test_the_api_key_is_sent_as_bearer_and_remembered(
    driver: Any,
    corpus: tuple[Corpus, dict[str, str]],
    tiny_llm: TinyLlama,
    embedder: Any,
    serve: Callable[..., Server],
) -> None:
    from selenium.webdriver.common.by import By

    store, _ = corpus
    settings = make_settings(store.settings.DATA_DIR, API_KEY="page-secret")
    server = serve(twin_app(settings, tiny_llm, embedder, default_max_tokens=6))
    server.wait_ready()
    assert httpx.get(server.url + "/", timeout=30).status_code == 200  # the page itself is public

    open_page(driver, server)
    ask(driver, QUESTION)
    refused = watch(driver, lambda s: s["done"] or s["stopped"])[-1]
    assert "missing or wrong API key" in refused["notice"]
    assert driver.execute_script("return window.llmTwin.history") == []  # the failed turn is not kept

    driver.find_element(By.ID, "api-key").send_keys("page-secret")
    ask(driver, QUESTION)
    answered = watch(driver, lambda s: s["done"] or s["stopped"])[-1]
    assert answered["text"] and not answered["notice"]

    driver.refresh()
    assert driver.find_element(By.ID, "api-key").get_attribute("value") == "page-secret"
    driver.execute_script("localStorage.clear()")


@pytest.mark.parametrize(
    ("markdown", "expected", "absent"),
    [
        ('<img src=x onerror="alert(1)"><script>x()</script>', "&lt;img src=x onerror=", "<img"),
        ("[click](javascript:alert(1))", "[click](javascript:alert(1))", "href"),
        (
            "```python\nprint('<b>')\n```",
            '<pre><code class="language-python">print(&#39;&lt;b&gt;&#39;)</code></pre>',
            "<b>",
        ),
        (
            "**bold**, *it* and `a<b`",
            "<p><strong>bold</strong>, <em>it</em> and <code>a&lt;b</code></p>",
            None,
        ),
        (
            "- a\n- b\n\n1. one\n2. two",
            "<ul><li>a</li><li>b</li></ul><ol><li>one</li><li>two</li></ol>",
            None,
        ),
        (
            "[docs](https://example.com/a?b=1&c=2) or https://example.com/x.",
            f'<a href="https://example.com/a?b=1&amp;c=2" {NEW_TAB}>docs</a> or '
            f'<a href="https://example.com/x" {NEW_TAB}>https://example.com/x</a>.',
            None,
        ),
        (
            "as [1] says, not [2]",
            f'<a class="cite" href="https://example.com/one" {NEW_TAB}>[1]</a>'
            ' says, not <span class="cite">[2]</span>',
            None,
        ),
        ("`**not bold**` and snake_case_name", "<code>**not bold**</code> and snake_case_name", "<em>"),
    ],
)
def test_markdown_is_rendered_and_html_is_escaped(
    driver: Any, chat: tuple[Server, RecordingLLM], markdown: str, expected: str, absent: str | None
) -> None:
    server, _ = chat
    if not driver.current_url.startswith(server.url):
        open_page(driver, server)
    sources = [{"number": 1, "link": "https://example.com/one"}, {"number": 2, "link": "javascript:x()"}]
    html = driver.execute_script(
        "return window.llmTwin.renderMarkdown(arguments[0], arguments[1])", markdown, sources
    )
    assert expected in html
    if absent is not None:
        assert absent not in html

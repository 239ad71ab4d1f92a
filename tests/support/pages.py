"""Generated article pages for end-to-end tests and benchmarks (many distinct, realistic posts)."""

from __future__ import annotations

import time
from collections.abc import Callable

TOPICS = ["vector search", "fine-tuning", "retrieval", "chunking", "evaluation", "quantisation", "agents"]


def article_html(number: int, *, version: int = 1) -> bytes:
    """A blog page with navigation, an article (heading, list, code) and a footer."""
    topic = TOPICS[number % len(TOPICS)]
    body = " ".join(
        f"Paragraph {p} of post {number} explains how {topic} behaves in production systems, "
        f"which trade-offs matter, and what we measured in version {version}."
        for p in range(4)
    )
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Post {number}: notes on {topic}</title>
<meta name="description" content="Field notes on {topic}, part {number}."></head>
<body><nav><a href="/">Home</a> <a href="/about">About</a> <a href="/subscribe">Subscribe</a></nav>
<main><article><h1>Post {number}: notes on {topic}</h1>
<p>{body}</p>
<h2>What to remember</h2><ul><li>Measure {topic} first.</li><li>Keep it simple.</li></ul>
<pre><code class="language-python">def post_{number}():\n    return "{topic}"\n</code></pre>
<p>{body}</p></article></main>
<footer>Copyright 2026 Example Blog. All rights reserved.</footer></body></html>"""
    return html.encode("utf-8")


def slow_article_route(number: int, delay: float) -> Callable:
    """A route for tests' FixtureServer that answers an article after `delay` seconds."""

    def route(handler) -> None:
        time.sleep(delay)
        handler.send_body(200, article_html(number), "text/html; charset=utf-8")

    return route

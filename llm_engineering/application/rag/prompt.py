"""The twin's prompt: the reference's RAG template plus numbered sources to cite as [1], [2]."""

from __future__ import annotations

import re
from collections.abc import Sequence

from llm_engineering.application.rag.context import render_sources
from llm_engineering.domain.llm import ChatMessage
from llm_engineering.domain.rag import Source

SYSTEM_PROMPT = (
    "You are {twin}, an AI twin that answers in the voice of the author of the passages you are "
    "given. Use the passages as the primary source of information and cite the ones you use by "
    "their number in square brackets, like [1] or [2]."
)

#: the LLM Engineer's Handbook's inference prompt ("use the provided context as the primary
#: source of information"), reordered for small models: numbered passages first, the question
#: and the instruction last, where a 135M model still attends to them (it answered the demo
#: question coherently this way, and copied the context in the handbook's order)
USER_TEMPLATE = (
    "Passages:\n{context}\n\n"
    "Question: {query}\nAnswer in two or three sentences, using the passages above as the primary source of "
    "information, and cite the passages you used, like [1]."
)

NO_CONTEXT = "(no sources found: say that you do not know)"

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def build_messages(
    conversation: Sequence[ChatMessage], sources: Sequence[Source], *, twin_name: str = "the twin"
) -> list[ChatMessage]:
    """Our system prompt (plus the caller's), the earlier turns, and the last user turn with context."""
    *history, last = conversation
    system = SYSTEM_PROMPT.format(twin=twin_name)
    extra = [m.content for m in history if m.role == "system" and m.content.strip()]
    if extra:
        system += "\n\n" + "\n\n".join(extra)
    context = render_sources(sources) if sources else NO_CONTEXT
    return [
        ChatMessage(role="system", content=system),
        *(m for m in history if m.role != "system"),
        ChatMessage(role="user", content=USER_TEMPLATE.format(query=last.content, context=context)),
    ]


def cited_numbers(text: str) -> set[int]:
    """Source numbers the text cites: [1], [2, 3], [1][2]."""
    return {int(n) for group in _CITATION.findall(text) for n in group.split(",")}


def mark_cited(sources: Sequence[Source], answer: str) -> list[Source]:
    cited = cited_numbers(answer)
    return [s.model_copy(update={"cited": s.number in cited}) for s in sources]

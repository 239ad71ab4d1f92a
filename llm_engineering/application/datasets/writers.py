"""Instruction writers: the instruction that a person's passage answers (instruction back-translation).

- `TemplateInstructionWriter`, the offline default: built from the document's title, the headings
  above the passage, its category and platform, in one of several phrasings picked by a seed (per
  passage, so a passage gets the same instruction whatever else is in the run).
- `LLMInstructionWriter`: asks an `LLMClient` (local or OpenAI-compatible), with the LLM Engineer's
  Handbook's rules for instruction generation. An unusable answer falls back to the template's
  instruction for that passage, counted in `report()`.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from loguru import logger

from llm_engineering.application.ports import LLMClient
from llm_engineering.domain.datasets import Passage
from llm_engineering.domain.llm import ChatMessage, GenerationParams
from llm_engineering.domain.types import DataCategory

_PLATFORMS = {
    "medium": "Medium",
    "substack": "Substack",
    "linkedin": "LinkedIn",
    "github": "GitHub",
}

_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just let like
    me more most my no nor not now of off on once only or other our ours out over own same she
    should so some such than that the their theirs them then there these they this those through
    to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself one get got make made use used using way many much well new
    every need want see know really even still thing things lot just going""".split()  # noqa: SIM905
)


def platform_name(platform: str) -> str:
    """ "maximelabonne.substack.com" -> "Substack"; unknown hosts -> "blog"."""
    lowered = platform.lower()
    if "github.io" in lowered:  # a personal site hosted on GitHub Pages is a blog
        return "blog"
    for key, name in _PLATFORMS.items():
        if key in lowered:
            return name
    return "blog"


def keywords(text: str, limit: int = 3) -> list[str]:
    """The passage's most frequent content words (outside code), for an instruction's topic."""
    prose = re.sub(r"```.*?```", " ", text, flags=re.S)
    words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9+\-]{2,}", prose)]
    counts = Counter(w for w in words if w not in _STOPWORDS)
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], words.index(kv[0])))[:limit]]


def _topic_list(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


_ARTICLE_SECTION = (
    'Write the section "{heading}" of your {platform} article "{title}".',
    'Explain {heading} as you would in an article titled "{title}".',
    "In your own words, write about {heading} for a {platform} post on {title}.",
    'What would you tell your readers about {heading}, in the article "{title}"?',
    "Describe {heading}. It is part of your article on {title}.",
)
_ARTICLE_SECTION_MORE = (
    'Continue the section "{heading}" of "{title}": write about {topics}.',
    'Still on {heading} in "{title}": discuss {topics}.',
    "Go deeper into {heading} ({title}): cover {topics}.",
)
_ARTICLE_INTRO = (
    'Write the opening of your {platform} article "{title}".',
    'Introduce an article titled "{title}" for your readers.',
    'Start a {platform} post called "{title}": set the scene for the reader.',
    'How would you open an article on "{title}"?',
)
_ARTICLE_TOPIC = (
    'Continue your article "{title}": write about {topics}.',
    'In the article "{title}", discuss {topics}.',
    'Write a passage on {topics} for your {platform} article "{title}".',
)
_POST = (
    "Write a {platform} post about {topics}.",
    "Share your thoughts on {topics} in a short {platform} post.",
    "What would you post on {platform} about {topics}?",
    "Write a post for your {platform} audience on {topics}.",
)
_CODE = (
    "Write the file {heading} of the {title} repository.",
    "Show the code of {heading} in your {title} project.",
    "Implement {heading} for the {title} repository.",
    "How did you write {heading} in {title}? Give the code.",
)


class TemplateInstructionWriter:
    """Instructions from the document's title, the passage's headings, category and platform."""

    name = "template"

    def __init__(self, seed: int = 42) -> None:
        self.seed = seed

    def write(self, passages: Sequence[Passage]) -> list[str]:
        seen: Counter[tuple[str, tuple[str, ...]]] = Counter()
        instructions = []
        for passage in passages:  # later passages of one section get their own topic
            key = (passage.source_document_id, passage.headings)
            instructions.append(self.instruction(passage, part=seen[key]))
            seen[key] += 1
        return instructions

    def instruction(self, passage: Passage, part: int = 0) -> str:
        """The instruction for `passage`, the `part`-th (from 0) of its section."""
        rng = random.Random(f"{self.seed}:{passage.source_document_id}:{passage.index}")
        platform = platform_name(passage.platform)
        title = passage.title.strip()
        heading = passage.headings[-1] if passage.headings else ""
        topics = _topic_list(keywords(passage.text)) or "what you have been working on"
        if passage.category == DataCategory.REPOSITORIES:
            return rng.choice(_CODE).format(heading=heading or "the main module", title=title or "this")
        if passage.category == DataCategory.POSTS or not title:
            return rng.choice(_POST).format(platform=platform, topics=topics)
        if heading and part:
            return rng.choice(_ARTICLE_SECTION_MORE).format(heading=heading, title=title, topics=topics)
        if heading:
            return rng.choice(_ARTICLE_SECTION).format(heading=heading, title=title, platform=platform)
        if passage.index == 0 and not part:
            return rng.choice(_ARTICLE_INTRO).format(title=title, platform=platform)
        return rng.choice(_ARTICLE_TOPIC).format(title=title, platform=platform, topics=topics)

    def report(self) -> dict[str, int]:
        return {}


#: The reference's rules for instruction generation (LLM Engineer's Handbook, chapter 5), asked
#: here for the one instruction that the extract answers.
INSTRUCTION_PROMPT = """Based on the following extract, write the one instruction that the extract \
answers: the instruction a user would give for the extract to be the perfect answer.
The instruction must ask to write about a specific topic contained in the extract.
Only use concepts from the extract to generate the instruction.
The instruction must never explicitly mention a context, a system, a course, or an extract.
The instruction must be self-contained and general.

Example instruction: Explain the concept of an LLM Twin.

Provide your response in JSON format with the following structure:
{{"instruction": "..."}}

Extract:
{extract}
"""

_JSON_OBJECT = re.compile(r"\{.*\}", re.S)


def parse_instruction(text: str) -> str | None:
    """The instruction from an LLM's answer (JSON, or a plain line); None when unusable."""
    match = _JSON_OBJECT.search(text)
    candidate = ""
    if match:
        try:
            value = json.loads(match.group(0))
            candidate = str(value.get("instruction", "")) if isinstance(value, dict) else ""
        except json.JSONDecodeError:
            candidate = ""
    if not candidate:
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        candidate = lines[0] if lines else ""
        candidate = re.sub(r"^(instruction\s*:\s*)", "", candidate, flags=re.I).strip(" \"'")
    candidate = " ".join(candidate.split())
    if len(candidate) < 10 or len(candidate) > 400 or "{" in candidate or "extract" in candidate.lower():
        return None
    return candidate


class LLMInstructionWriter:
    """Instructions written by an LLM from each passage, with the reference's prompt rules."""

    name = "llm"

    def __init__(
        self,
        llm: LLMClient,
        *,
        fallback: TemplateInstructionWriter | None = None,
        concurrency: int = 8,
        max_tokens: int = 96,
        seed: int = 42,
    ) -> None:
        self.llm = llm
        self.fallback = fallback or TemplateInstructionWriter(seed)
        self.concurrency = concurrency
        self.params = GenerationParams(max_tokens=max_tokens, temperature=0.0, seed=seed)
        self.counts: Counter[str] = Counter()

    def write(self, passages: Sequence[Passage]) -> list[str]:
        from tqdm.auto import tqdm

        self.llm.warm_up()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            answers = list(
                tqdm(
                    pool.map(self._ask, passages),
                    total=len(passages),
                    desc=f"instructions ({self.llm.model_name})",
                    unit="passage",
                )
            )
        instructions = []
        for passage, answer in zip(passages, answers, strict=True):
            parsed = parse_instruction(answer)
            if parsed is None:
                self.counts["llm_fallback_to_template"] += 1
                parsed = self.fallback.instruction(passage)
            else:
                self.counts["llm_written"] += 1
            instructions.append(parsed)
        if self.counts["llm_fallback_to_template"]:
            logger.warning(
                "{} of {} instructions fell back to the template (unusable LLM answers)",
                self.counts["llm_fallback_to_template"],
                len(passages),
            )
        return instructions

    def _ask(self, passage: Passage) -> str:
        prompt = INSTRUCTION_PROMPT.format(extract=passage.text)
        return self.llm.complete([ChatMessage(role="user", content=prompt)], self.params).text

    def report(self) -> dict[str, int]:
        return dict(self.counts)

"""LLM-as-judge with the reference's two criteria, accuracy and style, each scored 1 to 3.

The judge is any `LLMClient` (an OpenAI-compatible model); the twin itself never judges. An answer
the judge does not score in the expected JSON is counted as unjudged, not guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from loguru import logger

from llm_engineering.application.ports import LLMClient
from llm_engineering.domain.llm import ChatMessage, GenerationParams
from llm_engineering.domain.training import JudgeScores

SYSTEM = (
    "You are an expert judge of technical writing. You rate answers for accuracy and style and "
    "reply with JSON only."
)

PROMPT = """Rate the answer to the instruction below on two criteria.

1. Accuracy: is the information factually correct? Judge as an expert in the topic.
   1 (Poor): contains factual errors or misleading statements.
   2 (Good): mostly accurate, with minor errors or omissions.
   3 (Excellent): accurate and complete.
2. Style: does it read like a blog post or social media post by a practitioner: simple but
   precise technical words, no formal or academic phrasing?
   1 (Poor): too formal, or needlessly complex words.
   2 (Good): technical and accessible, with some formal expressions left.
   3 (Excellent): plain, direct and precise, as a practitioner writes for peers.
   Too formal: "The Llama2 7B model constitutes a noteworthy progression in the field of artificial
   intelligence, serving as the successor to its predecessor."
   Excellent: "Llama2 7B beats the original Llama on most benchmarks."

Instruction:
{instruction}

Answer:
{answer}

Reply with this JSON object and nothing else:
{{"accuracy": {{"analysis": "<one or two sentences>", "score": <1, 2 or 3>}},
 "style": {{"analysis": "<one or two sentences>", "score": <1, 2 or 3>}}}}"""

#: models too small to judge anything (the twin's own size class)
TOO_SMALL = re.compile(r"(135m|360m|smollm)", re.IGNORECASE)


def judge_unusable_reason(model_name: str) -> str | None:
    """Why `model_name` may not judge, or None when it may."""
    if not model_name.strip():
        return (
            "no judge configured: set JUDGE_MODEL (and JUDGE_API_KEY / JUDGE_BASE_URL) "
            "to an OpenAI-compatible model"
        )
    if TOO_SMALL.search(model_name):
        return f"JUDGE_MODEL {model_name} is a small model like the twin and may not judge: use a larger one"
    return None


def parse_scores(text: str) -> tuple[int, int] | None:
    """(accuracy, style) from the judge's reply, or None when it is not the expected JSON."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match is None:
        return None
    try:
        data = json.loads(match.group(0))
        scores = (int(data["accuracy"]["score"]), int(data["style"]["score"]))
    except (ValueError, KeyError, TypeError):
        return None
    return scores if all(1 <= score <= 3 for score in scores) else None


def judge_answers(
    judge: LLMClient, instructions: Sequence[str], answers: Sequence[str]
) -> JudgeScores | None:
    """Mean accuracy and style over the answers the judge scored; None when it scored none."""
    params = GenerationParams(max_tokens=400, temperature=0.0)
    scored: list[tuple[int, int]] = []
    for instruction, answer in zip(instructions, answers, strict=True):
        messages = [
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(role="user", content=PROMPT.format(instruction=instruction, answer=answer)),
        ]
        scores = parse_scores(judge.complete(messages, params).text)
        if scores is None:
            logger.warning("The judge's reply was not the expected JSON: that answer is left unjudged")
            continue
        scored.append(scores)
    if not scored:
        return None
    return JudgeScores(
        accuracy=sum(a for a, _ in scored) / len(scored),
        style=sum(s for _, s in scored) / len(scored),
        judged=len(scored),
        model=judge.model_name,
    )

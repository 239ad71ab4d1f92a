"""The judge: skipped without a configured model, never the twin itself, scores parsed strictly.

The judge is a remote OpenAI-compatible API, which cannot exist on this machine: `ScriptedJudge`
stands in for it and answers what a judge would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from llm_engineering.application.evaluation.judge import judge_answers, parse_scores
from llm_engineering.domain.llm import ChatMessage, Completion, CompletionDelta, GenerationParams, TokenUsage
from llm_engineering.infrastructure.evaluation.judge_client import build_judge
from llm_engineering.settings import Settings


class ScriptedJudge:
    """A stand-in for a remote judge model (no API is reachable here)."""

    model_name = "gpt-4o-mini"
    context_window = 128_000

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.prompts: list[str] = []

    def warm_up(self) -> None: ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return 0

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        self.prompts.append(messages[-1].content)
        return Completion(
            text=self.replies.pop(0), finish_reason="stop", usage=TokenUsage(), model=self.model_name
        )

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        raise NotImplementedError

    def close(self) -> None: ...


def _reply(accuracy: int, style: int) -> str:
    return (
        f'Sure. {{"accuracy": {{"analysis": "ok", "score": {accuracy}}}, '
        f'"style": {{"analysis": "ok", "score": {style}}}}}'
    )


def test_scores_are_means_over_parsed_replies() -> None:
    judge = ScriptedJudge([_reply(3, 2), "I cannot rate this.", _reply(1, 3), _reply(9, 1)])
    scores = judge_answers(judge, ["q1", "q2", "q3", "q4"], ["a1", "a2", "a3", "a4"])
    assert scores is not None
    assert (scores.accuracy, scores.style, scores.judged, scores.model) == (2.0, 2.5, 2, "gpt-4o-mini")
    assert "q1" in judge.prompts[0] and "a1" in judge.prompts[0] and "Style" in judge.prompts[0]
    assert judge_answers(ScriptedJudge(["nope"]), ["q"], ["a"]) is None


def test_parse_scores_rejects_out_of_range_and_malformed() -> None:
    assert parse_scores(_reply(2, 3)) == (2, 3)
    assert parse_scores(_reply(0, 3)) is None
    assert parse_scores('{"accuracy": {"score": "x"}}') is None


def test_judge_is_skipped_without_config_and_never_a_small_model() -> None:
    judge, reason = build_judge(Settings(_env_file=None, JUDGE_MODEL=""))
    assert judge is None and reason is not None and "set JUDGE_MODEL" in reason
    judge, reason = build_judge(Settings(_env_file=None, JUDGE_MODEL="HuggingFaceTB/SmolLM2-135M-Instruct"))
    assert judge is None and reason is not None and "may not judge" in reason
    judge, reason = build_judge(Settings(_env_file=None, JUDGE_MODEL="gpt-4o-mini", JUDGE_API_KEY="sk-test"))
    assert judge is not None and reason is None and judge.model_name == "gpt-4o-mini"
    judge, reason = build_judge(Settings(_env_file=None, JUDGE_MODEL="gpt-4o-mini"), enabled=False)
    assert judge is None and reason is not None and "judge: false" in reason

from zenml import pipeline

from steps.rag_evaluation.answer_questions import answer_questions
from steps.rag_evaluation.score_answers import score_answers


@pipeline(enable_cache=False)
def rag_evaluation(
    eval_set: str = "eval/handbook_retrieval.jsonl",
    limit: int | None = 10,
    max_tokens: int = 96,
    inference_config: str | None = None,
) -> None:
    """The twin answers a labelled question set end to end; its citations, length and latency are scored."""
    answers = answer_questions(
        eval_set=eval_set, limit=limit, max_tokens=max_tokens, inference_config=inference_config
    )
    score_answers(answers=answers, eval_set=eval_set)

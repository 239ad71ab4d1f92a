from pathlib import Path
from typing import Annotated

from zenml import log_metadata, step

from llm_engineering.application.rag import evaluation, evaluation_answers
from llm_engineering.application.rag.evaluation_answers import AnsweredQuestion
from llm_engineering.domain.llm import GenerationParams
from llm_engineering.settings import REPO_ROOT, get_settings


@step
def answer_questions(
    eval_set: str, limit: int | None, max_tokens: int, inference_config: str | None
) -> Annotated[list[AnsweredQuestion], "rag_answers"]:
    """The twin (the inference service's RAG chain and LLM) answers the first `limit` questions."""
    from llm_engineering.infrastructure.api.config import load_inference_config
    from llm_engineering.infrastructure.api.runtime import build_runtime

    settings = get_settings()
    path = Path(eval_set) if Path(eval_set).is_absolute() else REPO_ROOT / eval_set
    questions = evaluation.load_eval_set(path)[:limit]
    config = load_inference_config(Path(inference_config) if inference_config else settings.INFERENCE_CONFIG)
    runtime = build_runtime(settings, config)  # every answer is an Opik trace when Opik is configured
    try:
        model = runtime.llm.model_name
        answers = evaluation_answers.answer_questions(
            runtime.answerer, questions, GenerationParams(max_tokens=max_tokens)
        )
    finally:
        runtime.close()
    failed = sum(1 for a in answers if a.error is not None)
    log_metadata(metadata={"questions": len(answers), "failed": failed, "model": model, "eval_set": eval_set})
    return answers

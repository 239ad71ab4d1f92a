from typing import Annotated

from zenml import log_metadata, step

from llm_engineering.application.rag import evaluation_answers
from llm_engineering.application.rag.evaluation_answers import AnsweredQuestion, AnswerEvalReport
from llm_engineering.settings import get_settings


@step
def score_answers(
    answers: list[AnsweredQuestion], eval_set: str
) -> Annotated[AnswerEvalReport, "rag_eval_report"]:
    """Citation hit rate, grounded citations, answer length and latency: ZenML metadata, and Opik."""
    from llm_engineering.infrastructure.tracing.opik import build_tracer

    report = evaluation_answers.score(answers)
    metrics = report.metrics()
    log_metadata(metadata={"rag_eval": metrics})
    tracer = build_tracer(get_settings())  # a no-op unless Opik is configured
    try:
        trace = tracer.start_trace(
            "rag_evaluation", input={"eval_set": eval_set, "questions": report.questions}, tags=["evaluation"]
        )
        trace.end(metrics)
    finally:
        tracer.close()
    return report

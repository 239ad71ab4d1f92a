from zenml import pipeline

from steps.evaluation.evaluate_retrieval import evaluate_retrieval


@pipeline(enable_cache=False)
def retrieval_evaluation(
    eval_set: str = "eval/handbook_retrieval.jsonl",
    modes: list[str] | None = None,
    ks: list[int] | None = None,
) -> None:
    """Measure retrieval quality on a JSONL of {query, relevant_links}."""
    evaluate_retrieval(eval_set=eval_set, modes=modes or ["dense", "hybrid"], ks=ks or [1, 3, 5, 10])

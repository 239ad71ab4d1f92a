from pathlib import Path
from typing import Annotated

from zenml import log_metadata, step

from llm_engineering import bootstrap
from llm_engineering.application.rag import evaluation
from llm_engineering.application.rag.retriever import ContextRetriever
from llm_engineering.infrastructure.models.sparse import Bm25SparseEncoder
from llm_engineering.settings import REPO_ROOT, get_settings


@step
def evaluate_retrieval(
    eval_set: str, modes: list[str], ks: list[int]
) -> Annotated[list[evaluation.EvalReport], "retrieval_eval"]:
    """hit@k, recall@k and MRR@10 of each retrieval mode on a labelled query set."""
    settings = get_settings()
    path = Path(eval_set) if Path(eval_set).is_absolute() else REPO_ROOT / eval_set
    queries = evaluation.load_eval_set(path)
    embedder = bootstrap.build_embedder(settings)
    sparse_encoder = Bm25SparseEncoder()
    reports = []
    with bootstrap.Services(settings).vector_reader() as index:
        for mode in modes:
            retriever = ContextRetriever(index, embedder, sparse_encoder if mode == "hybrid" else None)
            reports.append(evaluation.evaluate(retriever, queries, ks))
    label = f"{settings.EMBEDDING_BACKEND}"
    log_metadata(metadata={f"{label}/{r.mode}": r.metrics() for r in reports} | {"queries": len(queries)})
    return reports

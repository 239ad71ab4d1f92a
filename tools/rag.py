"""Retrieval from the vector DB: `python -m tools.rag retrieve "QUERY" --k 5 [--author NAME] --json`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from llm_engineering.settings import get_settings
from tools.cli import configure_logging, run_app

app = typer.Typer(help="Query the twin's knowledge.", no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def _root() -> None:
    """Retrieval over the feature store."""


@app.command()
def retrieve(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many chunks.")] = 5,
    author: Annotated[str | None, typer.Option("--author", help="Only this author's content.")] = None,
    hybrid: Annotated[bool, typer.Option("--hybrid", help="Dense + BM25 sparse, fused.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Print the k chunks closest to QUERY, with their source link."""
    from llm_engineering import bootstrap
    from llm_engineering.application.rag.retriever import ContextRetriever
    from llm_engineering.infrastructure.models.sparse import Bm25SparseEncoder

    settings = get_settings()
    configure_logging("WARNING")
    with bootstrap.vector_index(settings, mode="reader") as index:
        retriever = ContextRetriever(
            index, bootstrap.build_embedder(settings), Bm25SparseEncoder() if hybrid else None
        )
        hits = retriever.retrieve(query, k, author_full_name=author)
    rows = [
        {
            "link": h.link,
            "author_full_name": h.author_full_name,
            "category": h.category.value,
            "score": round(h.score, 6),
            "content": h.content,
        }
        for h in hits
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for rank, row in enumerate(rows, 1):
        typer.echo(f"{rank}. [{row['score']:.3f}] {row['author_full_name']} — {row['link']}")
        typer.echo("   " + row["content"][:200].replace("\n", " "))


def main() -> None:
    run_app(app, also=(ValueError,))


if __name__ == "__main__":
    main()

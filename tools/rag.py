"""Retrieval from the vector DB.

`python -m tools.rag retrieve "QUERY" --k 5 [--author NAME] [--dense|--hybrid] --json`, or many
queries in one process: `retrieve --queries FILE.jsonl --k 10 --json` (one `{"query", "author"}`
per input line, one `{"query", "hits"}` per output line, in input order).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_engineering.application.rag.retriever import DEFAULT_MODE
from llm_engineering.domain.exceptions import InvalidRequest, LLMTwinException
from llm_engineering.settings import get_settings
from tools.cli import configure_logging, run_app

app = typer.Typer(help="Query the twin's knowledge.", no_args_is_help=True, pretty_exceptions_enable=False)


class EmptyFeatureStore(LLMTwinException):
    """The feature store holds no chunks to search."""


class QueryLine(BaseModel):
    """One line of a `--queries` file; other fields (an eval set's labels) are ignored."""

    model_config = ConfigDict(extra="ignore")

    query: str = Field(min_length=1)
    author: str | None = None


@app.callback()
def _root() -> None:
    """Retrieval over the feature store."""


@app.command()
def retrieve(
    query: Annotated[str | None, typer.Argument(help="What to look for (or --queries FILE).")] = None,
    queries: Annotated[
        Path | None,
        typer.Option(
            "--queries",
            help='A JSONL file, one {"query": ..., "author": ... or null} per line: answer them all.',
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many chunks.")] = 5,
    author: Annotated[str | None, typer.Option("--author", help="Only this author's content.")] = None,
    hybrid: Annotated[
        bool,
        typer.Option(
            "--hybrid/--dense",
            help="Dense + BM25 sparse, fused (the default: it measures best), or dense only.",
        ),
    ] = DEFAULT_MODE == "hybrid",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array (with --queries: one JSON object per line).")
    ] = False,
) -> None:
    """Print the k chunks closest to QUERY (or to each query of --queries), with their source link."""
    if (query is None) == (queries is None):
        raise typer.BadParameter("give one QUERY or --queries FILE, not both or neither")
    if queries is not None and author is not None:
        raise typer.BadParameter("--author is for one QUERY; in a --queries file each line has its author")
    batch = _read_queries(queries) if queries is not None else [QueryLine(query=query, author=author)]

    settings = get_settings()
    configure_logging("WARNING")
    with _searchable_index(settings) as (index, authors):
        _check_authors(batch, authors, single=queries is None)
        retriever = _retriever(settings, index, hybrid)
        answers = [(line, retriever.retrieve(line.query, k, author_full_name=line.author)) for line in batch]
    if queries is None:
        line, hits = answers[0]
        if not hits:
            raise EmptyFeatureStore(_nothing_found(line, authors))
        _print_one([_row(h) for h in hits], as_json)
        return
    for line, hits in answers:
        rows = [_row(h) for h in hits]
        if as_json:
            typer.echo(json.dumps({"query": line.query, "hits": rows}, ensure_ascii=False))
        else:
            typer.echo(f"# {line.query}" + (f"  (author: {line.author})" if line.author else ""))
            _print_one(rows, as_json=False)


def _read_queries(path: Path) -> list[QueryLine]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            f"--queries {path} cannot be read ({getattr(exc, 'strerror', None) or exc}): "
            "pass a UTF-8 JSONL file",
            param="queries",
        ) from None
    out = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            out.append(QueryLine.model_validate(json.loads(text)))
        except (json.JSONDecodeError, ValidationError) as exc:
            reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else exc.msg
            raise InvalidRequest(
                f'--queries {path} line {number} is not {{"query": "...", "author": ... or null}} '
                f"({reason}): fix that line",
                param="queries",
            ) from None
    if not out:
        raise InvalidRequest(
            f"--queries {path} holds no queries: write one JSON object per line", param="queries"
        )
    return out


@contextmanager
def _searchable_index(settings: Any) -> Iterator[tuple[Any, tuple[str, ...]]]:
    """The feature store's reader and its authors; refuses an empty store before any model loads."""
    from llm_engineering import bootstrap
    from llm_engineering.application.rag.catalog import FeatureCatalog
    from llm_engineering.domain.features import chunk_collection
    from llm_engineering.domain.types import DataCategory

    with bootstrap.Services(settings).vector_reader() as index:
        names = [chunk_collection(c) for c in DataCategory]
        if not any(index.collection_exists(name) and index.count(name) for name in names):
            raise EmptyFeatureStore(
                f"the feature store under {settings.DATA_DIR} holds no chunks: "
                "run `python -m tools.run features` first"
            )
        yield index, FeatureCatalog.load(index).authors


def _check_authors(batch: Sequence[QueryLine], authors: tuple[str, ...], *, single: bool) -> None:
    if not authors:  # no catalog (a store written before it existed): nothing to check against
        return
    known = set(authors)
    unknown = [(n, x.author) for n, x in enumerate(batch, 1) if x.author and x.author not in known]
    if not unknown:
        return
    if single:
        raise InvalidRequest(f"no author named {unknown[0][1]!r} in the feature store; {_known(authors)}")
    where = ", ".join(f"line {n} ({name!r})" for n, name in unknown[:5])
    raise InvalidRequest(f"unknown authors in --queries: {where}; {_known(authors)}", param="queries")


def _known(authors: Sequence[str]) -> str:
    return "known authors: " + ", ".join(authors)


def _nothing_found(line: QueryLine, authors: Sequence[str]) -> str:
    scope = f" for author {line.author!r}" if line.author else ""
    return f"nothing found{scope} in the feature store; {_known(authors)}"


def _retriever(settings: Any, index: Any, hybrid: bool) -> Any:
    from llm_engineering import bootstrap
    from llm_engineering.application.rag.retriever import ContextRetriever
    from llm_engineering.infrastructure.models.sparse import Bm25SparseEncoder

    sparse = Bm25SparseEncoder() if hybrid else None
    return ContextRetriever(index, bootstrap.build_embedder(settings), sparse)


def _row(hit: Any) -> dict[str, Any]:
    return {
        "link": hit.link,
        "author_full_name": hit.author_full_name,
        "category": hit.category.value,
        "score": round(hit.score, 6),
        "content": hit.content,
    }


def _print_one(rows: list[dict[str, Any]], as_json: bool) -> None:
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

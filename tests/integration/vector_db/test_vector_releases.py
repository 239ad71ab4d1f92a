"""One writer publishes releases; readers in other processes keep querying and switch on refresh()."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from llm_engineering.application.ports import VectorReader, VectorWriter
from llm_engineering.domain.exceptions import StoreUnavailable
from llm_engineering.infrastructure.db.vector_releases import (
    ReleaseLayout,
    ReleaseReaderIndex,
    ReleaseWriterIndex,
    _lock,
    _unlock,
)
from tests.conftest import REPO_ROOT

READER = Path(__file__).with_name("reader_loop.py")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LOG_LEVEL": "WARNING"}


def _add(writer: ReleaseWriterIndex, n: int) -> None:
    writer.ensure_collection("chunks", vector_size=4)
    ids = [str(uuid.uuid4()) for _ in range(n)]
    writer.upsert("chunks", ids, [{"n": i} for i in range(n)], [[1.0, 0.1 * i, 0.0, 0.0] for i in range(n)])


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"reader exited early: {process.stderr.read() if process.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.05)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "vectors"


def test_readers_keep_querying_while_the_writer_publishes(root: Path, tmp_path: Path) -> None:
    writer = ReleaseWriterIndex.open(root)
    try:
        _add(writer, 10)
        first = writer.publish()
        readers = []
        for k in range(2):  # two reader processes on the same release: each has its own copy
            out = tmp_path / f"reader{k}.json"
            process = subprocess.Popen(
                [sys.executable, str(READER), str(root), str(out), "30", "90"],
                cwd=REPO_ROOT,
                env=_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            readers.append((process, out))
        for process, out in readers:
            _wait_for(Path(f"{out}.ready"), process)

        _add(writer, 10)  # unpublished: readers still see 10
        time.sleep(0.3)
        second = writer.publish()
        time.sleep(0.3)
        _add(writer, 10)
        third = writer.publish()
        for process, out in readers:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr
            report = json.loads(out.read_text())
            seen = [tuple(s) for s in report["seen"]]
            assert seen[0] == (first, 10)
            assert seen[-1] == (third, 30)
            assert set(seen) <= {(first, 10), (second, 20), (third, 30)}
            assert [count for _, count in seen] == sorted(count for _, count in seen)
            assert report["queries"] >= len(seen)
    finally:
        writer.close()
    layout = ReleaseLayout(root)
    assert layout.list_releases() == [second, third]  # the oldest was collected
    assert layout.current() == third
    assert list(layout.readers.iterdir()) == []  # readers removed their private copies


def test_a_second_writer_is_refused_with_the_holders_pid(root: Path) -> None:
    writer = ReleaseWriterIndex.open(root)
    try:
        code = (
            "import sys\n"
            "from llm_engineering.domain.exceptions import StoreUnavailable\n"
            "from llm_engineering.infrastructure.db.vector_releases import ReleaseWriterIndex\n"
            "try:\n"
            f"    ReleaseWriterIndex.open({str(root)!r})\n"
            "except StoreUnavailable as exc:\n"
            "    print(exc); sys.exit(3)\n"
        )
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO_ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 3, result.stderr
        assert f"pid {os.getpid()}" in result.stdout
        assert "one writer at a time" in result.stdout
        assert time.monotonic() - started < 30
        with pytest.raises(StoreUnavailable):  # the same process cannot open a second writer either
            ReleaseWriterIndex.open(root)
    finally:
        writer.close()
    ReleaseWriterIndex.open(root).close()  # released on close


def test_reader_before_any_release_sees_nothing_then_refreshes(root: Path) -> None:
    reader = ReleaseReaderIndex.open(root)
    try:
        assert reader.release is None
        assert reader.list_collections() == []
        assert reader.refresh() is False
        writer = ReleaseWriterIndex.open(root)
        _add(writer, 3)
        assert reader.list_collections() == []  # unpublished
        release = writer.publish()
        writer.close()
        assert reader.refresh() is True
        assert reader.release == release
        assert reader.count("chunks") == 3
        assert reader.refresh() is False
    finally:
        reader.close()


def _port_methods(port: type) -> set[str]:
    return {name for name in vars(port) if not name.startswith("_")}


def test_readers_have_the_reads_and_no_writes(root: Path) -> None:
    reader = ReleaseReaderIndex.open(root)
    try:
        writes = _port_methods(VectorWriter)
        assert {"ensure_collection", "upsert", "delete_where", "publish"} <= writes
        assert not [name for name in writes if hasattr(reader, name)], "a reader must not be able to write"
        assert all(callable(getattr(reader, name)) for name in _port_methods(VectorReader))
    finally:
        reader.close()


def test_refresh_does_not_break_queries_running_in_other_threads(root: Path) -> None:
    writer = ReleaseWriterIndex.open(root)
    _add(writer, 5)
    writer.publish(optimize=False)
    reader = ReleaseReaderIndex.open(root)
    errors: list[BaseException] = []
    stop = threading.Event()

    def query() -> None:
        while not stop.is_set():
            try:
                assert len(reader.search("chunks", [1.0, 0.0, 0.0, 0.0], limit=2)) == 2
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=query) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(3):
            _add(writer, 1)
            writer.publish(optimize=False)
            assert reader.refresh() is True
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        reader.close()
        writer.close()
    assert errors == []
    assert len(ReleaseLayout(root).list_releases()) == 2


def test_garbage_collection_keeps_releases_being_copied_and_drops_dead_readers(
    root: Path, tmp_path: Path
) -> None:
    writer = ReleaseWriterIndex.open(root)
    layout = writer.layout
    try:
        _add(writer, 3)
        held = writer.publish(optimize=False)
        fd = _lock(layout.releases / held / ".lock", shared=True)  # a reader copying it right now
        try:
            for _ in range(3):
                writer.publish(optimize=False)
            assert held in layout.list_releases()
        finally:
            assert fd is not None
            _unlock(fd)
        writer.publish(optimize=False)
        assert held not in layout.list_releases()
        assert len(layout.list_releases()) == 2

        out = tmp_path / "killed.json"
        process = subprocess.Popen(
            [sys.executable, str(READER), str(root), str(out), "1000", "300"],
            cwd=REPO_ROOT,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        _wait_for(Path(f"{out}.ready"), process)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert any(p.is_dir() for p in layout.readers.iterdir())  # the dead reader's copy is left
        writer.publish(optimize=False)
        assert list(layout.readers.iterdir()) == []
    finally:
        writer.close()


def test_the_writer_restarts_work_from_the_current_release(root: Path) -> None:
    import shutil

    writer = ReleaseWriterIndex.open(root)
    _add(writer, 4)
    writer.publish(optimize=False)
    writer.close()
    shutil.rmtree(ReleaseLayout(root).work)
    writer = ReleaseWriterIndex.open(root)
    try:
        assert writer.count("chunks") == 4
    finally:
        writer.close()

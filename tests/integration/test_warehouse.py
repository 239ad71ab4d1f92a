"""The data warehouse on the embedded litemongo store: idempotent, duplicate-free, importable."""

from __future__ import annotations

import json
import multiprocessing as mp
import subprocess
import sys
from pathlib import Path

import pytest
from pymongo.errors import DuplicateKeyError

from llm_engineering.domain.documents import ArticleDocument, PostDocument, UserDocument
from llm_engineering.domain.types import SaveOutcome
from llm_engineering.infrastructure.db.mongo import connect_warehouse
from llm_engineering.settings import Settings
from tests.conftest import REPO_ROOT


def _article(user: UserDocument, link: str, body: str) -> ArticleDocument:
    return ArticleDocument(
        content={"Title": link, "Content": body},
        platform="blog",
        link=link,
        author_id=user.id,
        author_full_name=user.full_name,
    )


@pytest.fixture
def repo(tmp_path: Path):
    repository = connect_warehouse(Settings(DATA_DIR=tmp_path))
    yield repository
    repository.close()


def test_save_is_an_idempotent_upsert(repo) -> None:
    user = repo.get_or_create_user("Ada Sample")
    assert repo.get_or_create_user("Ada  Sample").id == user.id
    first = _article(user, "https://blog.test/a", "v1")
    assert repo.save(first) is SaveOutcome.INSERTED
    assert repo.save(_article(user, "https://blog.test/a", "v1")) is SaveOutcome.UNCHANGED
    assert repo.save(_article(user, "https://blog.test/a", "v2")) is SaveOutcome.UPDATED
    stored = repo.find_by_identity(ArticleDocument, "https://blog.test/a")
    assert stored is not None
    assert stored.id == first.id, "an update keeps the original id"
    assert stored.content["Content"] == "v2"
    assert repo.count(ArticleDocument) == 1


def test_unique_indexes_reject_duplicates_written_behind_the_repository(repo) -> None:
    user = repo.get_or_create_user("Ada Sample")
    repo.save(_article(user, "https://blog.test/a", "v1"))
    raw = _article(user, "https://blog.test/a", "other").to_mongo()
    with pytest.raises(DuplicateKeyError):
        repo._db["articles"].insert_one(raw)
    post = PostDocument(
        post_id="urn:li:activity:1",
        content={"text": "hi"},
        platform="linkedin",
        author_id=user.id,
        author_full_name=user.full_name,
    )
    repo.save(post)
    with pytest.raises(DuplicateKeyError):
        repo._db["posts"].insert_one(
            post.model_copy(update={"id": UserDocument.from_full_name("X Y").id}).to_mongo()
        )


def test_handbook_import_is_exact_and_idempotent(tmp_path: Path, handbook_dir: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "tools.data_warehouse"]
    first = subprocess.run(
        [*cmd, "import", str(handbook_dir)], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    assert "ArticleDocument.json: 76 inserted, 0 updated, 0 unchanged" in first.stdout
    second = subprocess.run(
        [*cmd, "import", str(handbook_dir)], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert "ArticleDocument.json: 0 inserted, 0 updated, 76 unchanged" in second.stdout
    out = tmp_path / "export"
    subprocess.run([*cmd, "export", str(out)], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    original = {row["_id"]: row for row in json.loads((handbook_dir / "ArticleDocument.json").read_text())}
    exported = {row["_id"]: row for row in json.loads((out / "ArticleDocument.json").read_text())}
    assert exported.keys() == original.keys()
    for _id, row in original.items():
        for key, value in row.items():
            assert exported[_id][key] == value, f"{_id}.{key} changed on the round trip"
    users = json.loads((out / "UserDocument.json").read_text())
    assert sorted(u["first_name"] for u in users) == ["Maxime", "Paul"]


def test_import_rejects_a_folder_without_exports(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.data_warehouse", "import", str(tmp_path)],
        cwd=REPO_ROOT,
        env={"DATA_DIR": str(tmp_path / "d"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "holds no *Document.json" in result.stderr


def _writer(data_dir: str, worker: int, barrier) -> None:
    repository = connect_warehouse(Settings(DATA_DIR=data_dir))
    user = repository.get_or_create_user("Ada Sample")
    barrier.wait()
    for i in range(40):
        repository.save(_article(user, f"https://blog.test/{(i + worker * 7) % 40}", "same body"))
    repository.close()


def _opener(data_dir: str, barrier) -> None:
    barrier.wait()  # every process opens the new warehouse at the same moment
    repository = connect_warehouse(Settings(DATA_DIR=data_dir))
    repository.get_or_create_user("Ada Sample")
    repository.close()


def test_processes_opening_a_new_warehouse_at_once_all_succeed(tmp_path: Path) -> None:
    """Creating the files and schema raced ("File exists", "database is locked") before the
    first open was serialised across processes."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    openers = [ctx.Process(target=_opener, args=(str(tmp_path), barrier)) for _ in range(4)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join(60)
    assert [o.exitcode for o in openers] == [0, 0, 0, 0]
    repository = connect_warehouse(Settings(DATA_DIR=tmp_path))
    assert repository.count(UserDocument) == 1
    repository.close()


def test_concurrent_writer_processes_leave_no_duplicates(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(3)
    workers = [ctx.Process(target=_writer, args=(str(tmp_path), w, barrier)) for w in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    repository = connect_warehouse(Settings(DATA_DIR=tmp_path))
    assert repository.count(ArticleDocument) == 40
    assert repository.count(UserDocument) == 1
    links = [d.link for d in repository.iter_all(ArticleDocument)]
    assert len(set(links)) == 40
    repository.close()


def test_a_store_made_before_author_keys_is_migrated(tmp_path: Path) -> None:
    """Stores created when a link was unique across people lose that index on the next connect."""
    import litemongo

    folder = Settings(DATA_DIR=tmp_path).warehouse_dir
    folder.mkdir(parents=True)
    old = litemongo.connect(f"sqlite://{folder}")
    old["twin"]["articles"].create_index("link", unique=True, name="unique_link")
    old.close()
    repository = connect_warehouse(Settings(DATA_DIR=tmp_path))
    try:
        ada, bob = repository.get_or_create_user("Ada Sample"), repository.get_or_create_user("Bob Other")
        assert repository.save(_article(ada, "https://blog.test/shared", "x")) is SaveOutcome.INSERTED
        assert repository.save(_article(bob, "https://blog.test/shared", "x")) is SaveOutcome.INSERTED
    finally:
        repository.close()

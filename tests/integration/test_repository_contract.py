"""One contract, two adapters: the in-memory fake behaves like the litemongo/pymongo repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.domain.documents import ArticleDocument, PostDocument, UserDocument
from llm_engineering.domain.types import SaveOutcome
from llm_engineering.infrastructure.db.mongo import connect_warehouse
from llm_engineering.settings import Settings
from tests.fakes import HashingEmbedder, InMemoryDocumentRepository


@pytest.fixture(params=["in-memory", "litemongo"])
def repo(request: pytest.FixtureRequest, tmp_path: Path):
    repository = (
        InMemoryDocumentRepository()
        if request.param == "in-memory"
        else connect_warehouse(Settings(DATA_DIR=tmp_path))
    )
    yield repository
    repository.close()


def _article(user: UserDocument, link: str, body: str) -> ArticleDocument:
    return ArticleDocument(
        content={"Title": link, "Content": body},
        platform="blog",
        link=link,
        author_id=user.id,
        author_full_name=user.full_name,
    )


def test_users_are_found_by_full_name(repo) -> None:
    user = repo.get_or_create_user("Ada Sample")
    assert repo.get_or_create_user("Ada  Sample").id == user.id
    assert repo.find_user("Ada Sample") == user
    assert repo.find_user("Nobody Here") is None
    assert repo.authors([user.id]) == [user]


def test_save_is_an_idempotent_upsert_that_keeps_the_id(repo) -> None:
    user = repo.get_or_create_user("Ada Sample")
    first = _article(user, "https://blog.test/a", "v1")
    assert repo.save(first) is SaveOutcome.INSERTED
    assert repo.save(_article(user, "https://blog.test/a", "v1")) is SaveOutcome.UNCHANGED
    assert repo.save(_article(user, "https://blog.test/a", "v2")) is SaveOutcome.UPDATED
    stored = repo.find_by_identity(ArticleDocument, "https://blog.test/a")
    assert stored is not None and stored.id == first.id
    assert stored.content["Content"] == "v2"
    assert repo.count(ArticleDocument) == 1
    assert repo.count(ArticleDocument, author_id=user.id) == 1
    assert [d.id for d in repo.find(ArticleDocument, author_id=user.id)] == [first.id]


def test_posts_are_keyed_by_post_id(repo) -> None:
    user = repo.get_or_create_user("Ada Sample")
    post = PostDocument(
        post_id="urn:1", content={"text": "hi"}, platform="linkedin", author_id=user.id,
        author_full_name=user.full_name,
    )  # fmt: skip
    assert repo.save(post) is SaveOutcome.INSERTED
    assert repo.save(post.model_copy(update={"link": "https://x.test/1"})) is SaveOutcome.UNCHANGED
    assert repo.count(PostDocument) == 1


def test_two_people_sharing_a_link_each_keep_their_own_document(repo) -> None:
    ada, bob = repo.get_or_create_user("Ada Sample"), repo.get_or_create_user("Bob Other")
    adas = _article(ada, "https://blog.test/co-written", "the text")
    assert repo.save(adas) is SaveOutcome.INSERTED
    assert repo.save(_article(bob, "https://blog.test/co-written", "the text")) is SaveOutcome.INSERTED
    assert repo.save(_article(bob, "https://blog.test/co-written", "bob's edit")) is SaveOutcome.UPDATED
    kept = repo.find_by_identity(ArticleDocument, "https://blog.test/co-written", author_id=ada.id)
    assert kept is not None and kept.id == adas.id
    assert (kept.author_full_name, kept.content["Content"]) == ("Ada Sample", "the text")
    bobs = repo.find_by_identity(ArticleDocument, "https://blog.test/co-written", author_id=bob.id)
    assert bobs is not None and bobs.content["Content"] == "bob's edit"
    assert repo.count(ArticleDocument) == 2


def test_export_import_round_trip(repo) -> None:
    user = repo.get_or_create_user("Ada Sample")
    repo.save(_article(user, "https://blog.test/a", "v1"))
    rows = repo.export_raw(ArticleDocument)
    assert repo.import_raw(ArticleDocument, rows) == {"inserted": 0, "updated": 0, "unchanged": 1}
    assert repo.import_raw(UserDocument, repo.export_raw(UserDocument))["unchanged"] == 1


def test_hashing_embedder_is_deterministic_and_meaningful() -> None:
    embedder = HashingEmbedder(dimension=128)
    a, b, c = embedder.embed(["LoRA fine-tuning on CPU", "fine-tuning with LoRA", "pasta recipes"])
    assert embedder.embed(["LoRA fine-tuning on CPU"])[0].tolist() == a.tolist()
    assert float(a @ b) > float(a @ c)
    assert abs(float(a @ a) - 1.0) < 1e-6
    assert embedder.embed([]).shape == (0, 128)

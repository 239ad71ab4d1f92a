"""Enumerations shared by every layer."""

from enum import StrEnum


class DataCategory(StrEnum):
    """The kinds of content a person leaves behind; one warehouse collection each."""

    ARTICLES = "articles"
    POSTS = "posts"
    REPOSITORIES = "repositories"


class SaveOutcome(StrEnum):
    """What an idempotent upsert did."""

    INSERTED = "inserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"

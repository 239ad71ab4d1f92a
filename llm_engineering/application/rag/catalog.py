"""What the feature store knows about its documents: the authors and each document's title.

Read from the payload-only `cleaned_<category>` collections (two small fields per document), once
per feature release: the service reloads it whenever its vector reader moves to a new release.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from loguru import logger

from llm_engineering.application.ports import VectorReader
from llm_engineering.domain.features import cleaned_collection
from llm_engineering.domain.types import DataCategory


@dataclass(frozen=True)
class FeatureCatalog:
    authors: tuple[str, ...] = ()
    #: document id (str) -> title
    titles: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, index: VectorReader) -> FeatureCatalog:
        authors: set[str] = set()
        titles: dict[str, str] = {}
        for category in DataCategory:
            name = cleaned_collection(category)
            if not index.collection_exists(name):
                continue
            for point_id, payload in index.scroll(name, fields=["author_full_name", "title"]):
                if payload.get("author_full_name"):
                    authors.add(payload["author_full_name"])
                if payload.get("title"):
                    titles[point_id] = payload["title"]
        logger.debug("feature catalog: {} authors, {} titled documents", len(authors), len(titles))
        return cls(authors=tuple(sorted(authors)), titles=titles)

    def title(self, document_id: str) -> str | None:
        return self.titles.get(document_id)


class LiveCatalog:
    """The catalog of the release a vector reader serves; `refresh()` follows the reader to newer ones.

    A Qdrant server has no releases (its reader's `refresh()` is always False): there the catalog
    is reloaded when older than `max_age_s`.
    """

    def __init__(self, index: VectorReader, *, max_age_s: float = 300.0) -> None:
        self._index = index
        self._max_age_s = max_age_s
        self._catalog: FeatureCatalog | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def current(self) -> FeatureCatalog:
        with self._lock:
            stale = time.monotonic() - self._loaded_at > self._max_age_s
            if self._catalog is None or stale:
                self._catalog = FeatureCatalog.load(self._index)
                self._loaded_at = time.monotonic()
            return self._catalog

    def refresh(self) -> bool:
        """Move the reader to the newest feature release, if any; True when the data changed."""
        changed = self._index.refresh()
        if changed:
            with self._lock:
                self._catalog = None
        return changed

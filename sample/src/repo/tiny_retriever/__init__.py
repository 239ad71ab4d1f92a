"""tiny-retriever: exact cosine search in plain Python."""

from tiny_retriever.search import Index, cosine

__all__ = ["Index", "cosine"]

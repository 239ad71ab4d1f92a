"""Rerankers backed by models: a sentence-transformers cross-encoder from a local folder."""

"""Adapters the evaluation uses: transformers models under evaluation, the OpenAI-compatible judge."""

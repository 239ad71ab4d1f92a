"""Opik tracing against a local stand-in server, on the API tests' real twin (stores, tiny LLM)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# the API tests' fixtures, shared rather than copied
from tests.integration.api.conftest import corpus, embedder, serve, tiny_llm  # noqa: F401
from tests.integration.tracing.recorder import OpikRecorder, start_recorder


@pytest.fixture(scope="module")
def recorder() -> Iterator[OpikRecorder]:
    with pytest.MonkeyPatch.context() as patch:
        # Opik's own switches: no error reports or usage statistics to the outside world
        patch.setenv("OPIK_SENTRY_ENABLE", "false")
        patch.setenv("OPIK_ANALYTICS_ENABLE", "false")
        server = start_recorder()
        yield server
        server.close()

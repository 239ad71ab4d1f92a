"""The chat page in real Chromium against the real twin service (uvicorn, embedded stores, tiny LLM).

The service fixtures are the API tests' own (a few articles embedded by MiniLM, a tiny Llama).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from llm_engineering.domain.llm import ChatMessage, CompletionDelta, GenerationParams
from llm_engineering.settings import Settings

# the API tests' fixtures, shared rather than copied
from tests.integration.api.conftest import corpus, embedder, serve, tiny_llm  # noqa: F401
from tests.integration.api.tiny_llm import GatedLLM
from tests.integration.crawlers_browser.sites import CHROMEDRIVER, CHROMIUM


class RecordingLLM(GatedLLM):
    """The gated tiny LLM that also keeps the messages of every generation it was asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[list[ChatMessage]] = []

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        self.requests.append(list(messages))
        return super().stream(messages, params)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the module, started with the crawlers' options."""
    from llm_engineering.infrastructure.browser.chrome import ChromeBrowserProvider

    settings = Settings(
        _env_file=None,
        DATA_DIR=Path(tmp_path_factory.mktemp("chrome")),
        CHROMIUM_BINARY=str(CHROMIUM),
        CHROMEDRIVER_PATH=str(CHROMEDRIVER),
    )
    provider = ChromeBrowserProvider(settings)
    try:
        yield provider.driver()
    finally:
        provider.close_all()

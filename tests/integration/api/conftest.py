"""A real twin service for the API tests: uvicorn on a free port, the real embedded stores with a
few articles embedded by the real MiniLM, and a tiny Llama built in the test as the LLM."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_engineering import bootstrap
from llm_engineering.application import features
from llm_engineering.domain.documents import ArticleDocument
from llm_engineering.infrastructure.api.app import create_app
from llm_engineering.infrastructure.api.config import InferenceConfig, ServiceConfig
from llm_engineering.infrastructure.api.runtime import build_runtime
from llm_engineering.infrastructure.models.sparse import Bm25SparseEncoder
from llm_engineering.settings import Settings
from tests.integration.api.tiny_llm import TinyLlama

ARTICLES = {
    ("Paul Iusztin", "feature-stores"): (
        "Feature Stores for LLM Systems",
        "A feature store keeps the features used for training and for serving in one place. "
        "For an LLM twin, the feature store holds cleaned documents and their embedded chunks, "
        "so the training pipeline and the inference pipeline read the same data.",
    ),
    ("Paul Iusztin", "rag-inference"): (
        "Building the RAG Inference Pipeline",
        "Retrieval-augmented generation retrieves the chunks closest to the question from the "
        "vector database, adds them to the prompt as context and asks the LLM to answer from it.",
    ),
    ("Maxime Labonne", "model-merging"): (
        "Merge Large Language Models with mergekit",
        "Model merging combines the weights of several fine-tuned models into one, without "
        "training. SLERP, TIES and DARE are popular merge methods supported by mergekit.",
    ),
    ("Maxime Labonne", "quantization"): (
        "Introduction to Weight Quantization",
        "Quantization stores model weights in fewer bits, such as 8-bit or 4-bit integers, "
        "which shrinks memory and speeds up inference with a small loss of accuracy.",
    ),
}


def make_settings(data_dir: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, DATA_DIR=data_dir, **values)


@dataclass
class Corpus:
    settings: Settings
    embedder: Any

    def add_articles(self, articles: dict[tuple[str, str], tuple[str, str]]) -> dict[str, str]:
        """Save (author, slug) -> (title, text) articles, run the feature pipeline once, publish."""
        repository = bootstrap.connect_warehouse(self.settings)
        links = {}
        try:
            for (author, slug), (title, text) in articles.items():
                user = repository.get_or_create_user(author)
                links[slug] = f"https://medium.com/@{user.full_name.split()[0].lower()}/{slug}"
                repository.save(
                    ArticleDocument(
                        content={"Title": title, "Content": text},
                        platform="medium",
                        link=links[slug],
                        author_id=user.id,
                        author_full_name=user.full_name,
                    )
                )
            with bootstrap.Services(self.settings).vector_writer() as index:
                chunkers = bootstrap.build_chunkers(self.settings, self.embedder)
                features.run_feature_pipeline(
                    repository, index, lambda: chunkers, self.embedder, Bm25SparseEncoder()
                )
                index.publish(optimize=False)
        finally:
            repository.close()
        return links


@pytest.fixture(scope="session")
def embedder() -> Any:
    model = bootstrap.build_embedder(make_settings(Path("/nonexistent")))
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def tiny_llm() -> TinyLlama:
    texts = [f"{title}\n{text}" for title, text in ARTICLES.values()]
    return TinyLlama(texts * 5 + ["What does Paul say about feature stores? [1] [2] [3]"])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> tuple[Corpus, dict[str, str]]:
    store = Corpus(make_settings(tmp_path_factory.mktemp("twin") / "data"), embedder)
    return store, store.add_articles(ARTICLES)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    app: Any

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=60, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, timeout=60, **kwargs)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get("/health").status_code == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"the service never became ready: {self.get('/health').text}")


@pytest.fixture(scope="module")
def serve() -> Iterator[Callable[..., Server]]:
    """Starts apps under uvicorn on free ports; every server started is stopped after the module."""
    import uvicorn

    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> Server:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise AssertionError("uvicorn did not start")
            time.sleep(0.02)
        running.append((server, thread))
        return Server(f"http://127.0.0.1:{port}", app)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(30)


def twin_app(settings: Settings, llm: Any, embedder: Any = None, **service: Any) -> Any:
    config = InferenceConfig(service=ServiceConfig(**{"refresh_interval_s": 0, **service}))
    return create_app(
        settings, config, runtime_factory=lambda: build_runtime(settings, config, llm=llm, embedder=embedder)
    )


@pytest.fixture(scope="module")
def twin(corpus: tuple[Corpus, dict[str, str]], tiny_llm: TinyLlama, serve: Callable[..., Server]) -> Server:
    store, _ = corpus
    server = serve(twin_app(store.settings, tiny_llm, max_tokens_limit=512, default_max_tokens=24))
    server.wait_ready()
    return server

"""Interfaces the application owns; infrastructure adapts MongoDB, Qdrant and models to them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar
from uuid import UUID

from llm_engineering.domain.datasets import Passage
from llm_engineering.domain.documents import ContentDocument, UserDocument, WarehouseDocument
from llm_engineering.domain.features import Chunk, CleanedDocument, RetrievalHit, SparseVector
from llm_engineering.domain.llm import ChatMessage, Completion, CompletionDelta, GenerationParams, TokenUsage
from llm_engineering.domain.training import ModelCard, ModelVersion
from llm_engineering.domain.types import SaveOutcome

if TYPE_CHECKING:
    import numpy as np

    from llm_engineering.domain.training_config import TrainingConfig

D = TypeVar("D", bound=WarehouseDocument)


class DocumentRepository(Protocol):
    """The data warehouse. Saving is an idempotent upsert keyed on each document's identity."""

    def ensure_indexes(self) -> None: ...

    def get_or_create_user(self, full_name: str) -> UserDocument: ...

    def find_user(self, full_name: str) -> UserDocument | None: ...

    def save(self, document: ContentDocument) -> SaveOutcome:
        """Insert a new document, update a changed one (same id), leave an unchanged one alone."""
        ...

    def find_by_identity(self, doc_type: type[D], identity: str, author_id: UUID | None = None) -> D | None:
        """The document with this link (or post id), of `author_id` when given."""
        ...

    def find(self, doc_type: type[D], **filters: Any) -> list[D]: ...

    def iter_all(self, doc_type: type[D]) -> Iterator[D]: ...

    def count(self, doc_type: type[WarehouseDocument], **filters: Any) -> int: ...

    def import_raw(self, doc_type: type[WarehouseDocument], rows: Iterable[dict[str, Any]]) -> dict[str, int]:
        """Upsert raw exported rows by `_id`, idempotently; returns counts by outcome."""
        ...

    def export_raw(self, doc_type: type[WarehouseDocument]) -> list[dict[str, Any]]: ...

    def authors(self, ids: Iterable[UUID]) -> list[UserDocument]: ...

    def close(self) -> None: ...


# --- crawling -----------------------------------------------------------------------------------

#: media types of a web page: what `Fetcher.get` accepts unless told otherwise
HTML_TYPES: tuple[str, ...] = ("text/html", "application/xhtml+xml")


class WebPage(Protocol):
    """A fetched response: the URL it finally came from (after redirects) and its body."""

    @property
    def url(self) -> str: ...

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Lower-cased header names."""
        ...

    @property
    def content(self) -> bytes: ...

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ("" when the server sent none)."""
        ...

    @property
    def text(self) -> str:
        """The body decoded as a browser would (declared charset, meta tag, else detected)."""
        ...


class Fetcher(Protocol):
    """The one web client of a crawl: robots.txt, per-domain politeness, size cap and retries."""

    def get(self, url: str, *, accept: tuple[str, ...] | None = HTML_TYPES) -> WebPage:
        """GET `url` (`accept`: the media types wanted, None for any) or raise `CrawlError`."""
        ...


class Limiter(Protocol):
    """Per-domain politeness shared by every request of a run, fetched or browsed."""

    def slot(self, domain: str) -> AbstractContextManager[None]:
        """Block until a request to `domain` may start; hold the slot while the block runs."""
        ...


class Page(Protocol):
    """One browser tab, as a site crawler sees it: selectors in, HTML out.

    Browser failures inside `BrowserProvider.page(...)` become `CrawlError`s there; these methods
    report "not found" or "did not happen" as return values, never as browser exceptions.
    """

    @property
    def url(self) -> str:
        """The URL the tab shows now (after redirects)."""
        ...

    @property
    def session_id(self) -> str:
        """Identifies the browser behind the tab (cookies, logins) for as long as it lives."""
        ...

    def open(self, url: str) -> None:
        """Load `url`; raise `CrawlError(BOT_CHECK)` when a challenge or error page came instead."""
        ...

    def ensure_content(self, link: str) -> None:
        """Raise `CrawlError(BOT_CHECK)` naming `link` when the current page is a challenge page."""
        ...

    def wait_for(self, selector: str, timeout: float) -> bool:
        """Wait until `selector` matches an element; False when it did not within `timeout` s."""
        ...

    def count(self, selector: str) -> int:
        """How many elements match the CSS `selector` now."""
        ...

    def type(self, selector: str, text: str, *, secret: bool = False) -> None:
        """Replace the text of the field `selector` with `text`; a `secret` never reaches a log."""
        ...

    def click(self, selector: str, *, navigation_timeout: float | None = None) -> bool:
        """Click `selector`; with `navigation_timeout`, False when no new page loaded in time."""
        ...

    def scroll_to_end(
        self, *, max_scrolls: int, timeout: float, settle: float, stop: Callable[[], bool] | None = None
    ) -> int:
        """Scroll until the page stops growing (nothing loading for `settle` s); return the growths.

        `timeout` bounds the wait for one scroll; `stop()` ends it early (enough loaded).
        """
        ...

    def source(self) -> str:
        """The current DOM as HTML (what scripts added included)."""
        ...


class BrowserProvider(Protocol):
    """Browsers for crawlers; each worker thread gets its own, created on first use and reused."""

    def page(self, link: str) -> AbstractContextManager[Page]:
        """The calling thread's tab for crawling `link`; browser failures in the block become
        one-line `CrawlError`s naming `link`, and a browser that broke is replaced."""
        ...


# --- features and retrieval ---------------------------------------------------------------------
#: a sparse vector as the vector store takes it: (term indices, weights)
SparseTuple = tuple[list[int], list[float]]
#: one search hit: (point id, score, payload), best first
ScoredPoint = tuple[str, float, dict[str, Any]]


class VectorReader(Protocol):
    """Reads of the feature store / vector DB. Collections are named by the caller."""

    def collection_exists(self, name: str) -> bool: ...

    def list_collections(self) -> list[str]: ...

    def scroll(
        self, name: str, filters: dict[str, Any] | None = None, fields: list[str] | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every (id, payload) matching exact-match `filters`; `fields` limits the payload."""
        ...

    def count(self, name: str) -> int: ...

    def search(
        self, name: str, vector: list[float], *, limit: int, filters: dict[str, Any] | None = None
    ) -> list[ScoredPoint]:
        """Dense nearest neighbours, best first."""
        ...

    def hybrid_search(
        self,
        name: str,
        vector: list[float],
        sparse: SparseTuple,
        *,
        limit: int,
        filters: dict[str, Any] | None = None,
    ) -> list[ScoredPoint]:
        """Dense + sparse candidates fused with reciprocal rank fusion."""
        ...

    def refresh(self) -> bool:
        """Switch a long-lived reader to the newest published data; True when it changed."""
        ...

    def close(self) -> None: ...


class VectorWriter(Protocol):
    """Writes to the feature store / vector DB; invisible to readers until `publish()`."""

    def ensure_collection(self, name: str, *, vector_size: int | None, sparse: bool = False) -> None:
        """Create the collection if missing; `vector_size=None` makes a payload-only collection."""
        ...

    def drop_collection(self, name: str) -> None: ...

    def upsert(
        self,
        name: str,
        ids: list[str],
        payloads: list[dict[str, Any]],
        vectors: list[list[float]] | None = None,
        sparse: list[SparseTuple] | None = None,
    ) -> None: ...

    def delete(self, name: str, ids: list[str]) -> None: ...

    def delete_where(self, name: str, field: str, values: list[str]) -> None:
        """Delete every point whose payload `field` is one of `values`."""
        ...

    def flush(self) -> None: ...

    def publish(self) -> str | None:
        """Make this writer's changes visible to readers at once (embedded mode); no-op on a server."""
        ...


class VectorIndex(VectorReader, VectorWriter, Protocol):
    """A writer that also reads what it wrote (the feature pipeline compares before it writes)."""


class Embedder(Protocol):
    """Texts -> (len(texts), dimension) float32 array, each row L2-normalised."""

    def embed(self, texts: list[str]) -> np.ndarray: ...


class QueryEmbedder(Protocol):
    def embed_query(self, text: str) -> list[float]: ...


class SparseEncoder(Protocol):
    """BM25-style term weights for hybrid search; the vector store applies IDF."""

    def encode_documents(self, texts: list[str]) -> list[SparseVector]: ...

    def encode_query(self, text: str) -> SparseVector: ...


class Tokenizer(Protocol):
    """What token-aware chunking needs of a fast (Rust) Hugging Face tokenizer."""

    @property
    def is_fast(self) -> bool: ...

    @property
    def model_max_length(self) -> int: ...

    def num_special_tokens_to_add(self, pair: bool = False) -> int: ...

    def __call__(self, text: Any, **kwargs: Any) -> Any:
        """`input_ids` (and `offset_mapping` when asked) of one text or a list of texts."""
        ...


class Chunker(Protocol):
    def chunk(self, doc: CleanedDocument) -> list[Chunk]: ...


# --- LLMs (inference and training issues) -------------------------------------------------------


class LLMClient(Protocol):
    """A chat model, wherever it runs (in process, an OpenAI-compatible server, SageMaker).

    `stream` yields text deltas; the last one carries `finish_reason` and `usage`. Closing the
    iterator early (the client went away) cancels the generation.
    """

    #: the model's name as reported to API clients
    model_name: str
    #: prompt + completion tokens the model accepts
    context_window: int

    def warm_up(self) -> None:
        """Load the model or check the connection; idempotent, cheap after the first call."""
        ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens the rendered chat prompt takes (exact for local models, estimated for remote)."""
        ...

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion: ...

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[CompletionDelta]: ...

    def close(self) -> None: ...


# --- model registry (training issue; the inference issue reads the production twin) -------------


class RegisteredModel(Protocol):
    """One version of the twin: a transformers folder (weights, tokenizer, chat template, card)."""

    version: str
    stage: str | None
    weights_dir: Path


class ModelRegistry(Protocol):
    """Versions of the `twin` model; evaluation promotes the best one to `production`.

    Each version is `DATA_DIR/models/twin/<version>/` (merged weights, tokenizer, `README.md` model
    card) and a version of ZenML's Model `twin` with its datasets, weights and metrics linked.
    """

    def register(self, weights_dir: Path, card: ModelCard) -> ModelVersion:
        """Copy the merged weights into a new version, write its card, link it in ZenML."""
        ...

    def list_versions(self) -> list[ModelVersion]:
        """Every version, oldest first."""
        ...

    def get(self, version: str) -> ModelVersion:
        """One version; raises `ModelVersionNotFound` naming the known ones."""
        ...

    def promote(self, version: str, stage: str = "production") -> ModelVersion:
        """Give `version` the stage (the previous holder of `production` is archived)."""
        ...

    def production(self) -> ModelVersion | None:
        """The version the inference service serves, or None when no twin has been promoted."""
        ...

    def update_metrics(self, version: str, metrics: dict[str, float]) -> ModelVersion:
        """Merge evaluation metrics into the version's card (and its ZenML metadata)."""
        ...


# --- evaluation (training issue) ------------------------------------------------------------------


class EvaluatedLM(Protocol):
    """A causal LM under evaluation, prompted through its own chat template."""

    name: str

    def warm_up(self) -> None: ...

    def answer_nll(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[float, int]]:
        """Per (instruction, answer): summed negative log-likelihood of the answer tokens, and
        how many tokens that is (the prompt is context only)."""
        ...

    def generate(self, instructions: Sequence[str], max_new_tokens: int) -> list[str]:
        """Greedy answers, batched."""
        ...

    def close(self) -> None:
        """Free the weights."""
        ...


# --- experiment tracking and fine-tuning (training issue) ---------------------------------------


class TrackedRun(Protocol):
    """One tracked experiment run; a context manager that ends the run on exit."""

    #: the tracker's id of this run (Comet's experiment key)
    key: str

    def log_params(self, params: dict[str, Any]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    def log_text(self, name: str, text: str) -> None:
        """A named text asset (a report, a model card, generated samples)."""
        ...

    def end(self) -> None:
        """Finish the run (offline: write its archive); idempotent."""
        ...

    def __enter__(self) -> TrackedRun: ...

    def __exit__(self, *exc_info: object) -> None: ...


class ExperimentTracker(Protocol):
    """Where runs log hyper-parameters, curves and metrics (Comet, online or offline)."""

    def start_run(self, name: str, *, params: dict[str, Any], tags: list[str]) -> TrackedRun: ...


class InstructExample(Protocol):
    """What SFT reads of an instruction sample (the datasets issue's `InstructSample`)."""

    instruction: str
    answer: str


class PreferenceExample(Protocol):
    """What DPO reads of a preference sample (the datasets issue's `PreferenceSample`)."""

    prompt: str
    chosen: str
    rejected: str


@dataclass(frozen=True)
class StageResult:
    """A finished training stage: merged full weights plus what it measured."""

    weights_dir: Path
    metrics: dict[str, float] = field(default_factory=dict)
    #: the optimiser step a killed run was resumed from (None: started fresh or already done)
    resumed_from_step: int | None = None


class FineTuner(Protocol):
    """Runs one training stage into `output_dir` and merges the LoRA into full weights.

    A stage is resumable: a re-run after a crash continues from its last checkpoint, and a
    finished stage is not trained again.
    """

    def resolve_base_model(self, name: str) -> Path:
        """A transformers folder for `name` (a folder, a Hub id, or "smollm2")."""
        ...

    def train_sft(
        self,
        config: TrainingConfig,
        model_dir: Path,
        data: Sequence[InstructExample],
        run: TrackedRun,
        output_dir: Path,
    ) -> StageResult: ...

    def train_dpo(
        self,
        config: TrainingConfig,
        model_dir: Path,
        data: Sequence[PreferenceExample],
        run: TrackedRun,
        output_dir: Path,
    ) -> StageResult: ...


# --- RAG (inference issue: answers with sources) ------------------------------------------------


class Reranker(Protocol):
    """Reorders retrieved chunks by relevance to the query, best first (scores replaced)."""

    #: "none", "cross-encoder", "llm"
    name: str

    def rerank(self, query: str, hits: Sequence[RetrievalHit]) -> list[RetrievalHit]: ...


# --- tracing (inference issue: Opik monitoring) -------------------------------------------------

#: what a span is to the tracing backend (Opik's span types)
SpanKind = Literal["general", "tool", "llm"]


class TraceSpan(Protocol):
    """One stage of a traced request; its latency runs from its creation to `end()`."""

    def end(
        self,
        output: Mapping[str, Any] | None = None,
        *,
        usage: TokenUsage | None = None,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record the stage's outcome; `error` (one line) marks it failed. Idempotent."""
        ...


class RequestTrace(Protocol):
    """One request (a chat turn, a /rag question) with a span per RAG stage.

    Nothing is sent while it runs: `end()` hands the trace and its spans to the backend at once.
    """

    def span(
        self,
        name: str,
        *,
        input: Mapping[str, Any] | None = None,
        kind: SpanKind = "general",
        model: str | None = None,
    ) -> TraceSpan: ...

    def end(
        self,
        output: Mapping[str, Any] | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Close the trace (spans still open are closed now) and queue it for sending. Idempotent."""
        ...


class Tracer(Protocol):
    """Where request traces go (Opik when configured). A tracer never raises into the request."""

    #: False when tracing is off: callers may skip building what only a trace would use
    enabled: bool

    def warm_up(self) -> None:
        """Import and connect the backend's client; idempotent."""
        ...

    def start_trace(
        self,
        name: str,
        *,
        input: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
    ) -> RequestTrace: ...

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued; True when everything was delivered."""
        ...

    def close(self) -> None:
        """Flush and release the client."""
        ...


# --- datasets (training issue, item 1) ----------------------------------------------------------


class InstructionWriter(Protocol):
    """Writes the instruction each passage answers (instruction back-translation)."""

    #: "template", "llm", ...: recorded in the dataset's metadata
    name: str

    def write(self, passages: Sequence[Passage]) -> list[str]:
        """One instruction per passage, in order."""
        ...

    def report(self) -> dict[str, int]:
        """Counts worth keeping in the dataset's metadata (e.g. LLM answers that fell back)."""
        ...

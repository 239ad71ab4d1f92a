"""All settings, read from the environment and `.env`. Only read when `get_settings()` is called."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from llm_engineering.domain.exceptions import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- Stores -----------------------------------------------------------------------------
    #: Folder of every embedded store (litemongo, qdrant-edge, ZenML's local store).
    DATA_DIR: Path = REPO_ROOT / "data"
    #: A `mongodb://` or `mongodb+srv://` URI selects a real MongoDB server; empty means embedded.
    DATABASE_HOST: str = ""
    #: A plain name (letters, digits, `_`, `-`): it is also a folder name under DATA_DIR.
    DATABASE_NAME: str = Field("twin", pattern=r"^[A-Za-z0-9_-]{1,63}$")
    #: A Qdrant server URL (http://host:6333); empty means the embedded qdrant-edge engine.
    QDRANT_URL: str = ""
    QDRANT_API_KEY: SecretStr | None = None

    # --- Crawling ---------------------------------------------------------------------------
    CRAWL_HTTP_WORKERS: int = Field(8, ge=1)
    CRAWL_BROWSER_WORKERS: int = Field(2, ge=1)
    CRAWL_PER_DOMAIN_CONCURRENCY: int = Field(2, ge=1, le=4)
    #: Seconds between two requests to the same domain.
    CRAWL_DOMAIN_DELAY: float = Field(0.5, ge=0)
    CRAWL_RESPECT_ROBOTS: bool = True
    CRAWL_LINK_TIMEOUT: float = Field(120.0, gt=0)
    CRAWL_REQUEST_TIMEOUT: float = Field(20.0, gt=0)
    CRAWL_MAX_RETRIES: int = Field(3, ge=0)
    CRAWL_BACKOFF_BASE: float = Field(0.5, ge=0)
    CRAWL_BACKOFF_MAX: float = Field(30.0, ge=0)
    CRAWL_MAX_PAGE_BYTES: int = Field(10 * 1024 * 1024, gt=0)
    CRAWL_USER_AGENT: str = "LLMTwinBot/0.1 (+https://github.com/llm-twin)"
    #: JSON object of extra domain patterns -> crawler dotted paths, merged over the defaults.
    CRAWL_DOMAIN_MAP: dict[str, str] = Field(default_factory=dict)
    GIT_CLONE_TIMEOUT: float = Field(120.0, gt=0)
    GIT_MAX_FILE_BYTES: int = Field(1024 * 1024, gt=0)

    # --- Crawl security (issue 7: crawl security and input) ------------------------------------
    #: JSON list of extra packages whose BaseCrawler subclasses `domain_map` may name (checked
    #: before anything is imported); this project's own crawlers are always allowed.
    CRAWL_ALLOWED_CRAWLER_PACKAGES: list[str] = Field(default_factory=list)
    #: Fetch private, loopback, link-local, CGNAT and metadata addresses (off: a link, a redirect
    #: or a feed item pointing inside your network is refused). For crawling your own intranet.
    CRAWL_ALLOW_PRIVATE_NETWORKS: bool = False
    #: JSON list of host names and CIDRs allowed although private, e.g. ["wiki.corp", "10.1.0.0/16"].
    CRAWL_ALLOWED_NETWORKS: list[str] = Field(default_factory=list)
    #: A data export unpacking to more than this many bytes, or holding more files, is refused.
    EXPORT_MAX_TOTAL_BYTES: int = Field(512 * 1024 * 1024, gt=0)
    EXPORT_MAX_MEMBERS: int = Field(20_000, gt=0)

    # --- Browser ----------------------------------------------------------------------------
    CHROMIUM_BINARY: str = "/usr/bin/chromium"
    CHROMEDRIVER_PATH: str = "/usr/bin/chromedriver"
    #: Extra Chrome switches, space separated (tests map hosts to fixture servers with them).
    CHROME_EXTRA_ARGS: str = ""
    BROWSER_PAGE_TIMEOUT: float = Field(30.0, gt=0)
    BROWSER_SCROLL_LIMIT: int = Field(30, ge=0)
    # --- Browser TLS (issue 7, data-side hardening) -------------------------------------------
    #: PEM file of certificates the browser accepts although no public CA signed them (a corporate
    #: TLS proxy, a private CA). Chromium ignores SSL_CERT_FILE; it gets the SPKI sha256 hashes of
    #: these certificates (`--ignore-certificate-errors-spki-list`) and then accepts a site whose
    #: presented chain holds one of them. Chromium matches only certificates the server sends:
    #: list the CA that your proxy sends along, or the site's own certificate.
    BROWSER_CA_CERT_FILE: Path | None = None

    # --- Secrets ----------------------------------------------------------------------------
    LINKEDIN_USERNAME: SecretStr | None = None
    LINKEDIN_PASSWORD: SecretStr | None = None

    # --- Feature pipeline -------------------------------------------------------------------
    #: A sentence-transformers model name or folder; empty means the packaged all-MiniLM-L6-v2.
    EMBEDDING_MODEL_ID: str = ""
    #: "torch" (sentence-transformers, fp32), "torch-bf16" (bfloat16 autocast: ~2x on CPUs with
    #: AMX/AVX-512 BF16) or "onnx-int8" (a local int8 export of the same weights).
    EMBEDDING_BACKEND: str = "torch"
    EMBEDDING_BATCH_SIZE: int = Field(32, ge=1)
    CHUNK_OVERLAP_TOKENS: int = Field(32, ge=0)

    # --- Training and experiment tracking (training issue) ------------------------------------
    #: Comet ML: with a key runs log online; without one, offline archives go to DATA_DIR/comet.
    COMET_API_KEY: SecretStr | None = None
    COMET_WORKSPACE: str = ""
    COMET_PROJECT: str = "llm-twin"
    #: SageMaker training jobs (`run-training --on sagemaker`); AWS_REGION is shared with inference.
    SAGEMAKER_ROLE_ARN: str = ""
    SAGEMAKER_S3_BUCKET: str = ""
    SAGEMAKER_INSTANCE_TYPE: str = "ml.g5.2xlarge"
    SAGEMAKER_INSTANCE_COUNT: int = Field(1, ge=1)
    #: a training image URI; empty lets the sagemaker SDK pick the Hugging Face image by version
    SAGEMAKER_TRAINING_IMAGE: str = ""

    # --- Model registry and evaluation (training issue) ---------------------------------------
    #: Hugging Face Hub token: `models push` (and dataset pushes) use it; unset means no push.
    HUGGINGFACE_ACCESS_TOKEN: SecretStr | None = None
    #: LLM-as-judge: an OpenAI-compatible chat model (e.g. gpt-4o-mini); empty skips judging.
    #: The twin itself (a 135M model) never judges.
    JUDGE_MODEL: str = ""
    #: The judge's OpenAI-compatible endpoint; empty means OpenAI's own API.
    JUDGE_BASE_URL: str = ""
    #: The judge's API key (falls back to OPENAI_API_KEY from the environment when unset).
    JUDGE_API_KEY: SecretStr | None = None
    JUDGE_TIMEOUT: float = Field(60.0, gt=0)

    # --- Datasets (training issue, item 1) -----------------------------------------------------
    #: Tokenizer that sizes passages (answers): a transformers folder, a `.gguf` file or a Hub id;
    #: empty means the base model's, SmolLM2-135M-Instruct (the GGUF set-up puts in .tools/models).
    DATASETS_TOKENIZER: str = ""
    #: Hub dataset repo (name or owner/name) that `datasets export` pushes to when
    #: HUGGINGFACE_ACCESS_TOKEN is set: `<repo>-instruct` and `<repo>-preference`.
    DATASETS_HUB_REPO: str = "llm-twin"

    # --- Inference service (inference issue: RAG and the API) ---------------------------------
    #: When set, every route but /health (and the static chat page) needs `Authorization: Bearer <key>`.
    API_KEY: SecretStr | None = None
    #: Comma-separated origins allowed by CORS (e.g. http://localhost:3000); empty means CORS off.
    CORS_ORIGINS: str = ""
    #: The RAG and service config the inference service reads (`--config` overrides it).
    INFERENCE_CONFIG: Path = Path("configs/inference.yaml")

    # --- LLM (inference issue: the LLM port's adapters) ---------------------------------------
    #: "local" (transformers in process), "openai" (any OpenAI-compatible server) or "sagemaker".
    LLM_BACKEND: Literal["local", "openai", "sagemaker"] = "local"
    #: local: a transformers model folder to serve; empty means the registry's production twin,
    #: else SmolLM2-135M-Instruct converted from the GGUF that set-up fetches (LLM_BASE_GGUF).
    LLM_MODEL_PATH: str = ""
    LLM_BASE_GGUF: Path = REPO_ROOT / ".tools" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    #: Where converted models are cached; empty means DATA_DIR/cache/models.
    MODEL_CACHE_DIR: Path | None = None
    #: local: "auto" (CUDA when present, else CPU), "cpu" or "cuda".
    LLM_DEVICE: str = "auto"
    #: local: "auto" (int8 on a CPU, bfloat16 on a GPU), "float32", "bfloat16" (weights and KV
    #: cache) or "int8" (int8 weights for every projection and the lm_head, dynamic int8
    #: matmuls, the rest fp32; CPU only; fastest).
    LLM_DTYPE: Literal["auto", "float32", "bfloat16", "int8"] = "auto"
    #: local: intra-op threads of the decode loop; 0 means every core the process may use.
    LLM_NUM_THREADS: int = Field(0, ge=0)
    #: local: requests decoded together in one batch; more wait in a queue.
    LLM_MAX_BATCH: int = Field(8, ge=1, le=64)
    #: local: the longest prompt + answer, in tokens (caps the model's own window; sizes the KV cache).
    LLM_MAX_SEQ_LEN: int = Field(4096, ge=16)
    #: local: the running streams together send one delta per interval: with n running, each
    #: sends what it gathered every n x this (its first token at once). Every delta wakes a stream
    #: thread, the event loop and the client, which take a core from the decode loop; 0 sends
    #: every token on its own.
    LLM_STREAM_INTERVAL_MS: int = Field(100, ge=0, le=1000)
    #: local: MiB of KV kept for prompt openings that come back (the system prompt, a chat's
    #: earlier turns), so that they are not prefilled again; 0 turns it off.
    LLM_PREFIX_CACHE_MB: int = Field(256, ge=0)
    #: openai: the server's base URL (e.g. http://127.0.0.1:8080/v1); empty means OpenAI's own API.
    LLM_BASE_URL: str = ""
    LLM_API_KEY: SecretStr | None = None
    #: openai: the model name the server knows; sagemaker: the name reported to clients.
    LLM_MODEL: str = ""
    #: openai/sagemaker: the served model's context window, in tokens.
    LLM_CONTEXT_WINDOW: int = Field(8192, ge=16)
    #: openai/sagemaker: seconds per request, and retries on 429/5xx/connection errors.
    LLM_TIMEOUT: float = Field(60.0, gt=0)
    LLM_MAX_RETRIES: int = Field(3, ge=0)
    #: sagemaker: the endpoint serving Hugging Face TGI, and its AWS region (credentials: boto3's own).
    SAGEMAKER_ENDPOINT_NAME: str = ""
    AWS_REGION: str = "eu-central-1"
    #: sagemaker: stream with invoke_endpoint_with_response_stream (TGI supports it).
    SAGEMAKER_STREAM: bool = True
    #: sagemaker: a different runtime URL (a local stand-in in tests); empty means AWS's own.
    SAGEMAKER_ENDPOINT_URL: str = ""

    # --- Tracing (inference issue: Opik monitoring) -------------------------------------------
    #: Opik's own settings. Tracing is on when OPIK_URL_OVERRIDE (a self-hosted Opik, e.g.
    #: http://localhost:5173/api) or OPIK_API_KEY (Comet's cloud) is set; otherwise it is off
    #: and costs nothing. OPIK_TRACK_DISABLE=true turns it off whatever else is set.
    OPIK_URL_OVERRIDE: str = ""
    OPIK_API_KEY: SecretStr | None = None
    OPIK_WORKSPACE: str = ""
    OPIK_PROJECT_NAME: str = "llm-twin"
    OPIK_TRACK_DISABLE: bool = False

    # --- Logging ----------------------------------------------------------------------------
    LOG_LEVEL: str = "INFO"

    @property
    def warehouse_dir(self) -> Path:
        return self.DATA_DIR.resolve() / "warehouse"

    @property
    def vector_dir(self) -> Path:
        return self.DATA_DIR.resolve() / "vectors"

    @property
    def cache_dir(self) -> Path:
        return self.DATA_DIR.resolve() / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; call at the edges (steps, CLI), never at import time.

    A bad value reads as one line naming the setting (never its value: it may be a secret).
    """
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        message = first["msg"][:1].lower() + first["msg"][1:]
        raise ConfigError(f"setting {name} {message}: fix it in the environment") from None

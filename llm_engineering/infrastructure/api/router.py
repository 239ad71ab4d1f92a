"""Routes only: each hands the request to `TwinServing` and translates errors to HTTP, nothing more."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from llm_engineering.domain.exceptions import (
    InvalidRequest,
    ModelNotFound,
    PromptTooLong,
    ServiceBusy,
    ServiceNotReady,
)
from llm_engineering.domain.llm import LLMError
from llm_engineering.infrastructure.api.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    ErrorInfo,
    ErrorResponse,
    HealthResponse,
    ModelList,
    RAGRequest,
    RAGResponse,
)
from llm_engineering.infrastructure.api.serving import TwinServing

STATIC_DIR = Path(__file__).parent / "static"
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class Unauthorized(Exception):
    """No or a wrong bearer token while API_KEY is set."""


def serving(request: Request) -> TwinServing:
    return request.app.state.serving


def require_api_key(request: Request) -> None:
    key = request.app.state.api_key
    if key is None:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), key.encode()):
        raise Unauthorized("missing or wrong API key: send `Authorization: Bearer <API_KEY>`")


router = APIRouter()
protected = APIRouter(dependencies=[Depends(require_api_key)])


@router.get("/health", response_model=HealthResponse)
def health(request: Request) -> JSONResponse:
    state = request.app.state.serving.state
    body = HealthResponse(status=state.status, detail=state.detail)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if state.status == "ok" else 503)


@router.get("/", include_in_schema=False)
def chat_page() -> Response:
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        return _error(404, "the chat page is not installed (static/index.html)", "not_found")
    return FileResponse(page, media_type="text/html")


@protected.get("/v1/models", response_model=ModelList)
def list_models(service: TwinServing = Depends(serving)) -> ModelList:
    return service.models()


@protected.post("/v1/chat/completions", response_model=ChatCompletionResponse)
async def chat_completions(
    body: ChatCompletionRequest, service: TwinServing = Depends(serving)
) -> ChatCompletionResponse | StreamingResponse:
    result = await service.chat(body)
    if isinstance(result, ChatCompletionResponse):
        return result
    return StreamingResponse(result, media_type="text/event-stream", headers=STREAM_HEADERS)


@protected.post("/rag", response_model=RAGResponse)
async def rag(body: RAGRequest, service: TwinServing = Depends(serving)) -> RAGResponse:
    return await service.rag(body)


# --- errors as OpenAI-style JSON ----------------------------------------------------------------


def _error(
    status: int, message: str, kind: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    body = ErrorResponse(error=ErrorInfo(message=message, type=kind, param=param, code=code))
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
        return _error(400, f"{where}: {first['msg']}", "invalid_request_error", param=where)

    @app.exception_handler(ModelNotFound)
    async def _model(_: Request, exc: ModelNotFound) -> JSONResponse:
        return _error(404, str(exc), "invalid_request_error", exc.param, "model_not_found")

    @app.exception_handler(PromptTooLong)
    async def _too_long(_: Request, exc: PromptTooLong) -> JSONResponse:
        return _error(400, str(exc), "invalid_request_error", exc.param, "context_length_exceeded")

    @app.exception_handler(InvalidRequest)
    async def _bad(_: Request, exc: InvalidRequest) -> JSONResponse:
        return _error(400, str(exc), "invalid_request_error", exc.param)

    @app.exception_handler(LLMError)
    async def _llm(_: Request, exc: LLMError) -> JSONResponse:
        return _error(503, f"the model cannot answer: {exc}", "service_unavailable", code="llm_unavailable")

    @app.exception_handler(ServiceBusy)
    async def _busy(_: Request, exc: ServiceBusy) -> JSONResponse:
        return _error(503, str(exc), "server_busy", code="queue_full")

    @app.exception_handler(ServiceNotReady)
    async def _not_ready(_: Request, exc: ServiceNotReady) -> JSONResponse:
        return _error(503, str(exc), "service_unavailable", code="not_ready")

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        response = _error(401, str(exc), "authentication_error", code="invalid_api_key")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

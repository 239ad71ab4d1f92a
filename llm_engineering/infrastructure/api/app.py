"""The FastAPI app: lifespan loads the twin once (in a thread, so /health can say "loading"), then serves.

`create_app(settings, config)` builds the real runtime; tests pass `runtime_factory` to give it a
tiny LLM. Nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from loguru import logger

from llm_engineering.infrastructure.api.config import InferenceConfig
from llm_engineering.infrastructure.api.router import STATIC_DIR, install_error_handlers, protected, router
from llm_engineering.infrastructure.api.runtime import TwinRuntime, build_runtime
from llm_engineering.infrastructure.api.serving import ServiceState, TwinServing
from llm_engineering.infrastructure.compute import single_threaded_executor
from llm_engineering.settings import Settings


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413, by Content-Length or while reading."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counting_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Callable) -> None:
        body = json.dumps(
            {
                "error": {
                    "message": f"the request body is over {self.limit} bytes: send a shorter one",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "request_too_large",
                }
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(BaseException):
    """Raised from `receive`; a BaseException so the body parser's `except Exception` lets it through."""


def create_app(
    settings: Settings,
    config: InferenceConfig,
    *,
    runtime_factory: Callable[[], TwinRuntime] | None = None,
) -> FastAPI:
    factory = runtime_factory or (lambda: build_runtime(settings, config))
    state = ServiceState()

    def load() -> None:
        try:
            state.runtime = factory()
        except Exception as exc:
            logger.exception("the twin failed to load")
            state.status, state.detail = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0]
        else:
            state.status = "ok"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.LLM_BACKEND == "local":  # the decode loop owns the cores (see infrastructure.compute)
            asyncio.get_running_loop().set_default_executor(single_threaded_executor(name="twin-worker"))
        loading = asyncio.create_task(asyncio.to_thread(load))
        try:
            yield
        finally:
            await loading
            if state.runtime is not None:
                state.runtime.close()
                state.runtime = None

    app = FastAPI(title="LLM Twin", version="0.1.0", lifespan=lifespan)
    app.state.api_key = settings.API_KEY.get_secret_value() if settings.API_KEY else None
    app.state.serving = TwinServing(state, config.service)
    app.include_router(router)
    app.include_router(protected)
    install_error_handlers(app)
    if STATIC_DIR.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    origins = [o.strip() for o in settings.CORS_ORIGINS.split(",") if o.strip()]
    if origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"]
        )
    app.add_middleware(BodyLimit, limit=config.service.max_body_bytes)
    return app

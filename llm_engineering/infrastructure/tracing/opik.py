"""The `Tracer` port over Opik's SDK: one trace per request, one span per RAG stage.

Configured by Opik's own settings (`OPIK_URL_OVERRIDE`, `OPIK_API_KEY`, `OPIK_WORKSPACE`,
`OPIK_PROJECT_NAME`, `OPIK_TRACK_DISABLE`). With neither a URL nor an API key, `build_tracer`
returns the no-op tracer: the SDK is not even imported, so tracing costs nothing.

A trace is kept in memory while its request runs and handed to the SDK whole when it ends (the
trace, then each span, every one complete with its times, usage and output). Opik's batching
sends them from its own thread; creating a span and updating it later could reach the server in
the wrong order and lose the update. Tracing never fails a request: SDK errors are logged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from loguru import logger
from pydantic import SecretStr

from llm_engineering.application.ports import RequestTrace, SpanKind, Tracer, TraceSpan
from llm_engineering.application.tracing import NullTracer
from llm_engineering.domain.llm import TokenUsage
from llm_engineering.settings import Settings


def tracing_configured(settings: Settings) -> bool:
    """Opik is on when it has somewhere to send (a URL or an API key) and is not switched off."""
    return not settings.OPIK_TRACK_DISABLE and bool(
        settings.OPIK_URL_OVERRIDE.strip() or _secret(settings.OPIK_API_KEY)
    )


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def build_tracer(settings: Settings) -> Tracer:
    if not tracing_configured(settings):
        return NullTracer()
    return OpikTracer(
        project_name=settings.OPIK_PROJECT_NAME,
        workspace=settings.OPIK_WORKSPACE or None,
        url=settings.OPIK_URL_OVERRIDE or None,
        api_key=settings.OPIK_API_KEY
        if settings.OPIK_API_KEY and settings.OPIK_API_KEY.get_secret_value()
        else None,
    )


class _Span:
    def __init__(self, name: str, kind: SpanKind, input: Mapping[str, Any] | None, model: str | None) -> None:
        self.name = name
        self.kind = kind
        self.input = dict(input) if input else None
        self.model = model
        self.start_time = datetime.now(UTC)
        self._started = time.perf_counter()
        self.end_time: datetime | None = None
        self.output: dict[str, Any] | None = None
        self.usage: TokenUsage | None = None
        self.metadata: dict[str, Any] = {}
        self.error: str | None = None

    def end(
        self,
        output: Mapping[str, Any] | None = None,
        *,
        usage: TokenUsage | None = None,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        if self.end_time is not None:
            return
        self.end_time = datetime.now(UTC)
        self.metadata["latency_ms"] = round((time.perf_counter() - self._started) * 1000, 3)
        self.output = dict(output) if output is not None else None
        self.usage = usage
        self.model = model or self.model
        self.metadata.update(metadata or {})
        self.error = error


class _Trace:
    def __init__(
        self,
        tracer: OpikTracer,
        name: str,
        input: Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | None,
        tags: Sequence[str],
    ) -> None:
        self._tracer = tracer
        self.name = name
        self.input = dict(input) if input else None
        self.metadata = dict(metadata or {})
        self.tags = list(tags)
        self.start_time = datetime.now(UTC)
        self._started = time.perf_counter()
        self.spans: list[_Span] = []
        self._ended = False
        self._lock = threading.Lock()

    def span(
        self,
        name: str,
        *,
        input: Mapping[str, Any] | None = None,
        kind: SpanKind = "general",
        model: str | None = None,
    ) -> TraceSpan:
        span = _Span(name, kind, input, model)
        with self._lock:
            self.spans.append(span)
        return span

    def end(
        self,
        output: Mapping[str, Any] | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
        for span in self.spans:
            span.end(metadata={"unfinished": True})  # a no-op on spans that ended
        self.metadata["latency_ms"] = round((time.perf_counter() - self._started) * 1000, 3)
        self.metadata.update(metadata or {})
        self._tracer._send(self, datetime.now(UTC), dict(output) if output is not None else None, error)


def _error_info(error: str | None) -> dict[str, str] | None:
    if error is None:
        return None
    kind, _, message = error.partition(": ")
    return {"exception_type": kind or "Error", "message": message or error, "traceback": ""}


class OpikTracer:
    """Traces to an Opik server (self-hosted or Comet's cloud) through the official SDK."""

    enabled = True

    def __init__(
        self,
        *,
        project_name: str,
        workspace: str | None = None,
        url: str | None = None,
        api_key: SecretStr | None = None,
        flush_timeout: int = 10,
    ) -> None:
        self.project_name = project_name
        self.workspace = workspace
        self.url = url
        self._api_key = api_key
        self.flush_timeout = flush_timeout
        self._client: Any = None
        self._lock = threading.Lock()
        self._warned = False

    def warm_up(self) -> None:
        """Import the SDK (slow: it pulls in its evaluation stack) and make the client, once."""
        if self._client is not None:
            return
        with self._lock:
            if self._client is None:
                import opik

                self._client = opik.Opik(
                    project_name=self.project_name,
                    workspace=self.workspace,
                    host=self.url,
                    api_key=self._api_key.get_secret_value() if self._api_key else None,
                )
                logger.info("Opik tracing on: project {} at {}", self.project_name, self.url or "Comet")

    def start_trace(
        self,
        name: str,
        *,
        input: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
    ) -> RequestTrace:
        return _Trace(self, name, input, metadata, tags)

    def _send(
        self, trace: _Trace, end_time: datetime, output: dict[str, Any] | None, error: str | None
    ) -> None:
        try:
            self.warm_up()
            from opik import id_helpers

            trace_id = id_helpers.generate_id(trace.start_time)
            self._client.trace(
                id=trace_id,
                name=trace.name,
                start_time=trace.start_time,
                end_time=end_time,
                input=trace.input,
                output=output,
                metadata=trace.metadata,
                tags=trace.tags or None,
                error_info=_error_info(error),
                project_name=self.project_name,
            )
            for span in trace.spans:
                usage = span.usage
                self._client.span(
                    trace_id=trace_id,
                    id=id_helpers.generate_id(span.start_time),
                    name=span.name,
                    type=span.kind,
                    start_time=span.start_time,
                    end_time=span.end_time,
                    input=span.input,
                    output=span.output,
                    metadata=span.metadata,
                    usage=None
                    if usage is None
                    else {
                        "prompt_tokens": usage.prompt_tokens,
                        "completion_tokens": usage.completion_tokens,
                        "total_tokens": usage.total_tokens,
                    },
                    model=span.model,
                    error_info=_error_info(span.error),
                    project_name=self.project_name,
                )
        except Exception as exc:  # tracing must never fail the request it traces
            if not self._warned:
                self._warned = True
                logger.warning("Opik tracing failed, traces are dropped: {}: {}", type(exc).__name__, exc)

    def flush(self, timeout: float | None = None) -> bool:
        if self._client is None:
            return True
        return bool(self._client.flush(int(timeout if timeout is not None else self.flush_timeout)))

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.end(self.flush_timeout)

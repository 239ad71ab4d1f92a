"""Tracing helpers the use cases share: the no-op tracer, and a stage that is timed and traced at once.

Use cases trace at their seams (one span per RAG stage, one for generation), never inside loops.
When tracing is off every call here is a constant-time no-op.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from llm_engineering.application.ports import RequestTrace, SpanKind, TraceSpan
from llm_engineering.domain.llm import ChatMessage, GenerationParams, TokenUsage


class _NullSpan:
    def end(
        self,
        output: Mapping[str, Any] | None = None,
        *,
        usage: TokenUsage | None = None,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        return None


class _NullTrace:
    def span(
        self,
        name: str,
        *,
        input: Mapping[str, Any] | None = None,
        kind: SpanKind = "general",
        model: str | None = None,
    ) -> TraceSpan:
        return NULL_SPAN

    def end(
        self,
        output: Mapping[str, Any] | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        return None


NULL_SPAN = _NullSpan()
NULL_TRACE = _NullTrace()


class NullTracer:
    """Tracing off: nothing is imported, recorded or sent."""

    enabled = False

    def warm_up(self) -> None:
        return None

    def start_trace(
        self,
        name: str,
        *,
        input: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
    ) -> RequestTrace:
        return NULL_TRACE

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        return None


class StageOutcome:
    """What a stage reports to its span: set `output` (and `metadata`) inside the `with` block."""

    __slots__ = ("metadata", "output")

    def __init__(self) -> None:
        self.output: dict[str, Any] | None = None
        self.metadata: dict[str, Any] | None = None


@contextmanager
def stage(
    trace: RequestTrace,
    name: str,
    timings: dict[str, float],
    *,
    input: Mapping[str, Any] | None = None,
    kind: SpanKind = "general",
) -> Iterator[StageOutcome]:
    """Time the block into `timings[f"{name}_ms"]` and trace it as span `name`."""
    span = trace.span(name, input=input, kind=kind)
    outcome = StageOutcome()
    started = time.perf_counter()
    try:
        yield outcome
    except BaseException as exc:
        span.end(outcome.output, metadata=outcome.metadata, error=error_line(exc))
        raise
    finally:
        timings[f"{name}_ms"] = (time.perf_counter() - started) * 1000
    span.end(outcome.output, metadata=outcome.metadata)


def generation_span(
    trace: RequestTrace, model: str, messages: Sequence[ChatMessage], params: GenerationParams
) -> TraceSpan:
    """The span of one LLM call: the rendered chat and the sampling parameters as its input."""
    return trace.span(
        "generation",
        kind="llm",
        model=model,
        input={"messages": [m.model_dump() for m in messages], "params": params.model_dump()},
    )


def error_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__

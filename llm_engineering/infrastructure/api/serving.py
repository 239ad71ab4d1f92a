"""Turns API requests into RAG and LLM calls, off the event loop, within bounded concurrency.

- RAG preparation (embedding, search, token counting) runs in a worker thread.
- A streamed generation runs in its own thread, handing deltas to the event loop; when the client
  goes away the stream is closed in that thread, which cancels the generation.
- At most `max_concurrent` requests generate at once and `max_queue` wait; more get ServiceBusy.
- Before a request, at most every `refresh_interval_s`, the vector reader moves to a newer
  feature release if one was published.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from loguru import logger

from llm_engineering.application.ports import RequestTrace
from llm_engineering.application.rag.answerer import trace_output
from llm_engineering.application.tracing import error_line, generation_span
from llm_engineering.domain.exceptions import InvalidRequest, ModelNotFound, ServiceBusy, ServiceNotReady
from llm_engineering.domain.llm import CompletionDelta, GenerationParams, TokenUsage
from llm_engineering.domain.rag import PreparedPrompt
from llm_engineering.infrastructure.api.config import ServiceConfig
from llm_engineering.infrastructure.api.protocol import (
    ChatCompletionChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatCompletionStreamChoice,
    DeltaMessage,
    ErrorInfo,
    ModelCard,
    ModelList,
    RAGRequest,
    RAGResponse,
    ResponseMessage,
    SourceOut,
    UsageInfo,
    completion_id,
)
from llm_engineering.infrastructure.api.runtime import TwinRuntime

T = TypeVar("T")


@dataclass
class ServiceState:
    """What lifespan loads: `runtime` once ready, or the reason it failed."""

    runtime: TwinRuntime | None = None
    status: Literal["loading", "ok", "failed"] = "loading"
    detail: str | None = None


class Slots:
    """At most `running` holders at once and `waiting` in line; one more is refused at once."""

    def __init__(self, running: int, waiting: int) -> None:
        self._semaphore = asyncio.Semaphore(running)
        self.max_waiting = waiting
        self.waiting = 0

    async def acquire(self) -> Slot:
        if self._semaphore.locked() and self.waiting >= self.max_waiting:
            raise ServiceBusy(
                "the twin is busy: every generation slot and queue place is taken, retry in a moment"
            )
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        return Slot(self._semaphore)


class Slot:
    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore: asyncio.Semaphore | None = semaphore

    def release(self) -> None:
        semaphore, self._semaphore = self._semaphore, None
        if semaphore is not None:
            semaphore.release()


async def iterate_in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Items of a blocking iterator, produced in a thread of its own; closing this closes that one.

    The iterator is created, advanced and closed in the thread, so a generator-based LLM stream
    sees `close()` (GeneratorExit) where it runs and can cancel its generation.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def put(kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening anyway
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

    def work() -> None:
        iterator: Iterator[T] | None = None
        try:
            iterator = make()
            for item in iterator:
                if stop.is_set():
                    break
                put("item", item)
            put("end", None)
        except BaseException as exc:
            put("error", exc)
        finally:
            close = getattr(iterator, "close", None)
            if callable(close):
                close()

    thread = threading.Thread(target=work, name="llm-stream", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = await queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


class TwinServing:
    def __init__(self, state: ServiceState, config: ServiceConfig) -> None:
        self.state = state
        self.config = config
        self.slots = Slots(config.max_concurrent, config.max_queue)
        self._last_refresh = 0.0
        self._refresh_lock = asyncio.Lock()

    # --- shared -----------------------------------------------------------------------------

    def runtime(self) -> TwinRuntime:
        if self.state.runtime is None:
            why = f": {self.state.detail}" if self.state.detail else ", retry in a moment"
            raise ServiceNotReady(f"the twin is {self.state.status}{why}")
        return self.state.runtime

    async def refresh(self, runtime: TwinRuntime) -> None:
        """Follow the vector reader to a newer feature release, at most every refresh_interval_s."""
        if time.monotonic() - self._last_refresh < self.config.refresh_interval_s:
            return
        async with self._refresh_lock:
            if time.monotonic() - self._last_refresh < self.config.refresh_interval_s:
                return
            await asyncio.to_thread(runtime.catalog.refresh)
            self._last_refresh = time.monotonic()

    def check_model(self, runtime: TwinRuntime, name: str | None) -> None:
        if name and name not in (self.config.twin_name, runtime.llm.model_name):
            raise ModelNotFound(
                f"model {name!r} is not served here: use {self.config.twin_name!r} (see GET /v1/models)",
                param="model",
            )

    def params(self, runtime: TwinRuntime, request: ChatCompletionRequest) -> GenerationParams:
        max_tokens = request.requested_max_tokens() or self.config.default_max_tokens
        limit = min(self.config.max_tokens_limit, runtime.llm.context_window - 1)
        if max_tokens > limit:
            raise InvalidRequest(
                f"max_tokens {max_tokens} is out of range: ask for 1 to {limit}", param="max_tokens"
            )
        return GenerationParams(
            max_tokens=max_tokens,
            temperature=0.0 if request.temperature is None else request.temperature,
            top_p=1.0 if request.top_p is None else request.top_p,
            stop=request.stop_sequences(),
            seed=request.seed,
        )

    # --- routes -----------------------------------------------------------------------------

    def models(self) -> ModelList:
        runtime = self.runtime()
        return ModelList(
            data=[
                ModelCard(
                    id=self.config.twin_name,
                    root=runtime.llm.model_name,
                    context_window=runtime.llm.context_window,
                )
            ]
        )

    async def rag(self, request: RAGRequest) -> RAGResponse:
        runtime = self.runtime()
        params = GenerationParams(max_tokens=self.config.default_max_tokens)
        slot = await self.slots.acquire()
        try:
            await self.refresh(runtime)
            answer = await asyncio.to_thread(runtime.answerer.answer, request.query, params)
        finally:
            slot.release()
        return RAGResponse(
            answer=answer.text,
            sources=[SourceOut.of(s) for s in answer.sources],
            model=self.config.twin_name,
            usage=_usage(answer.usage.prompt_tokens, answer.usage.completion_tokens),
        )

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletionResponse | AsyncIterator[str]:
        """A whole response, or (stream=True) an async iterator of server-sent events."""
        runtime = self.runtime()
        self.check_model(runtime, request.model)
        params = self.params(runtime, request)
        messages = [m.to_domain() for m in request.messages]
        slot = await self.slots.acquire()
        trace = runtime.answerer.start_trace(messages)
        try:
            await self.refresh(runtime)
            prepared = await asyncio.to_thread(
                runtime.answerer.prepare, messages, max_tokens=params.max_tokens, trace=trace
            )
            if request.stream:
                include_usage = bool(request.stream_options and request.stream_options.include_usage)
                events = self._stream(runtime, prepared, params, slot, include_usage, trace)
                weakref.finalize(events, slot.release)  # a stream never started still frees its slot
                return events
            generation = generation_span(trace, runtime.llm.model_name, prepared.messages, params)
            completion = await asyncio.to_thread(runtime.llm.complete, prepared.messages, params)
        except BaseException as exc:
            slot.release()
            trace.end(error=error_line(exc))
            raise
        slot.release()
        sources = runtime.answerer.finish(prepared, completion.text)
        generation.end(
            {"text": completion.text, "finish_reason": completion.finish_reason},
            usage=completion.usage,
            model=completion.model or runtime.llm.model_name,
        )
        trace.end(trace_output(completion.text, sources))
        return ChatCompletionResponse(
            model=self.config.twin_name,
            choices=[
                ChatCompletionChoice(
                    message=ResponseMessage(content=completion.text),
                    finish_reason=_finish(completion.finish_reason),
                )
            ],
            usage=_usage(completion.usage.prompt_tokens, completion.usage.completion_tokens),
            sources=[SourceOut.of(s) for s in sources],
        )

    async def _stream(
        self,
        runtime: TwinRuntime,
        prepared: PreparedPrompt,
        params: GenerationParams,
        slot: Slot,
        include_usage: bool,
        trace: RequestTrace,
    ) -> AsyncIterator[str]:
        chunk_id, created, model = completion_id(), int(time.time()), self.config.twin_name

        def chunk(delta: DeltaMessage, **extra: Any) -> str:
            finish = extra.pop("finish_reason", None)
            body = ChatCompletionChunk(
                id=chunk_id,
                created=created,
                model=model,
                choices=[ChatCompletionStreamChoice(delta=delta, finish_reason=finish)],
                **extra,
            )
            return _sse(body.model_dump_json(exclude_none=True))

        text: list[str] = []
        last: CompletionDelta | None = None
        generation = generation_span(trace, runtime.llm.model_name, prepared.messages, params)
        try:
            yield chunk(DeltaMessage(role="assistant", content=""))
            async for delta in iterate_in_thread(lambda: runtime.llm.stream(prepared.messages, params)):
                if delta.text:
                    text.append(delta.text)
                    yield chunk(DeltaMessage(content=delta.text))
                if delta.finish_reason is not None:
                    last = delta
            answer = "".join(text)
            cited = runtime.answerer.finish(prepared, answer)
            finish = _finish(last.finish_reason if last else "stop")
            generation.end(
                {"text": answer, "finish_reason": finish},
                usage=last.usage if last and last.usage else None,
                model=runtime.llm.model_name,
            )
            trace.end(trace_output(answer, cited))
            sources = [SourceOut.of(s) for s in cited]
            yield chunk(DeltaMessage(), finish_reason=finish, sources=sources)
            if include_usage:
                usage = last.usage if last and last.usage else None
                prompt_tokens = usage.prompt_tokens if usage else prepared.prompt_tokens
                completion_tokens = usage.completion_tokens if usage else len(text)
                body = ChatCompletionChunk(
                    id=chunk_id,
                    created=created,
                    model=model,
                    choices=[],
                    usage=_usage(prompt_tokens, completion_tokens),
                )
                yield _sse(body.model_dump_json(exclude_none=True))
            yield _sse("[DONE]")
        except Exception as exc:  # after the headers went out, an error can only be an event
            logger.exception("generation failed mid-stream")
            generation.end(error=error_line(exc))
            trace.end(error=error_line(exc))
            info = ErrorInfo(message=f"generation failed: {type(exc).__name__}", type="server_error")
            yield _sse(json.dumps({"error": info.model_dump()}))
            yield _sse("[DONE]")
        finally:
            slot.release()
            # the client went away mid-stream: what was streamed so far (no-ops after a normal end)
            partial = TokenUsage(prompt_tokens=prepared.prompt_tokens, completion_tokens=len(text))
            generation.end({"text": "".join(text)}, usage=partial, metadata={"cancelled": True})
            trace.end({"answer": "".join(text)}, metadata={"cancelled": True})


def _sse(data: str) -> str:
    return f"data: {data}\n\n"


def _finish(reason: str) -> Literal["stop", "length"]:
    return "length" if reason == "length" else "stop"


def _usage(prompt_tokens: int, completion_tokens: int) -> UsageInfo:
    return UsageInfo(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )

"""An LLM behind a SageMaker endpoint serving Hugging Face TGI, as the LLM Engineer's Handbook deploys.

The request is TGI's: `{"inputs": prompt, "parameters": {max_new_tokens, temperature, top_p,
stop, ...}}` sent with boto3's `sagemaker-runtime` `invoke_endpoint`; streaming uses
`invoke_endpoint_with_response_stream`, whose AWS event-stream frames carry TGI's server-sent
lines (`data:{"token": {"text": ...}}`), possibly split across frames. The prompt is rendered in
ChatML, the twin's chat format (SmolLM2's). Untested against AWS itself: tests run a local
stand-in that speaks the SageMaker runtime protocol.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llm_engineering.domain.llm import (
    ChatMessage,
    Completion,
    CompletionDelta,
    GenerationParams,
    LLMError,
    TokenUsage,
)
from llm_engineering.infrastructure.llm.openai_compat import estimate_tokens

if TYPE_CHECKING:
    from llm_engineering.settings import Settings

_FINISH = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}


def render_chatml(messages: Sequence[ChatMessage]) -> str:
    """The conversation in ChatML, with the assistant's turn opened."""
    turns = [f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(turns) + "<|im_start|>assistant\n"


@dataclass(frozen=True)
class SageMakerConfig:
    endpoint_name: str
    region: str = "eu-central-1"
    model_name: str = ""
    context_window: int = 8192
    timeout: float = 60.0
    max_retries: int = 3
    stream: bool = True
    #: another runtime URL (a local stand-in); empty means AWS's own
    endpoint_url: str = ""

    def __post_init__(self) -> None:
        if not self.endpoint_name.strip():
            raise ValueError("SAGEMAKER_ENDPOINT_NAME is empty: set it to the TGI endpoint's name")

    @classmethod
    def from_settings(cls, settings: Settings) -> SageMakerConfig:
        return cls(
            endpoint_name=settings.SAGEMAKER_ENDPOINT_NAME,
            region=settings.AWS_REGION,
            model_name=settings.LLM_MODEL,
            context_window=settings.LLM_CONTEXT_WINDOW,
            timeout=settings.LLM_TIMEOUT,
            max_retries=settings.LLM_MAX_RETRIES,
            stream=settings.SAGEMAKER_STREAM,
            endpoint_url=settings.SAGEMAKER_ENDPOINT_URL,
        )


class SageMakerLLM:
    """`LLMClient` over a SageMaker TGI endpoint."""

    def __init__(self, config: SageMakerConfig) -> None:
        self.config = config
        self.model_name = config.model_name or config.endpoint_name
        self.context_window = config.context_window
        self._client: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Build the boto3 runtime client (no request is sent). Idempotent."""
        if self._client is not None:
            return
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    read_timeout=self.config.timeout,
                    connect_timeout=min(self.config.timeout, 10.0),
                    retries={"max_attempts": self.config.max_retries + 1, "mode": "standard"},
                )
                self._client = boto3.client(
                    "sagemaker-runtime",
                    region_name=self.config.region,
                    endpoint_url=self.config.endpoint_url or None,
                    config=config,
                )

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return estimate_tokens(messages)

    @staticmethod
    def payload(messages: Sequence[ChatMessage], params: GenerationParams, *, stream: bool) -> dict[str, Any]:
        """TGI's request body. TGI refuses temperature 0 and top_p 1: greedy is `do_sample: false`."""
        if not messages:
            raise LLMError("no messages to answer: send at least one user message")
        parameters: dict[str, Any] = {
            "max_new_tokens": params.max_tokens,
            "do_sample": params.temperature > 0,
            "return_full_text": False,
            "details": True,
            "stop": list(params.stop),
        }
        if params.temperature > 0:
            parameters["temperature"] = params.temperature
            if params.top_p < 1.0:
                parameters["top_p"] = params.top_p
        if params.seed is not None:
            parameters["seed"] = params.seed
        return {"inputs": render_chatml(messages), "parameters": parameters, "stream": stream}

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        from botocore.exceptions import BotoCoreError, ClientError

        self.warm_up()
        body = self.payload(messages, params, stream=False)
        try:
            response = self._client.invoke_endpoint(
                EndpointName=self.config.endpoint_name, ContentType="application/json", Body=json.dumps(body)
            )
            result = json.loads(response["Body"].read())
        except (BotoCoreError, ClientError) as exc:
            raise LLMError(f"SageMaker endpoint {self.config.endpoint_name} failed: {exc}") from exc
        first = result[0] if isinstance(result, list) else result
        details = first.get("details") or {}
        text = _strip_stops(first.get("generated_text", ""), params.stop)
        return Completion(
            text=text,
            finish_reason=_FINISH.get(details.get("finish_reason", ""), "stop"),  # type: ignore[arg-type]
            usage=TokenUsage(
                prompt_tokens=estimate_tokens(messages),
                completion_tokens=int(details.get("generated_tokens", 0)),
            ),
            model=self.model_name,
        )

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        if not self.config.stream:
            return self._single(messages, params)
        from botocore.exceptions import BotoCoreError, ClientError

        self.warm_up()
        body = self.payload(messages, params, stream=True)
        try:
            response = self._client.invoke_endpoint_with_response_stream(
                EndpointName=self.config.endpoint_name, ContentType="application/json", Body=json.dumps(body)
            )
        except (BotoCoreError, ClientError) as exc:
            raise LLMError(f"SageMaker endpoint {self.config.endpoint_name} failed: {exc}") from exc
        return self._deltas(response["Body"], messages, params)

    def _single(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Iterator[CompletionDelta]:
        completion = self.complete(messages, params)
        yield CompletionDelta(text=completion.text)
        yield CompletionDelta(finish_reason=completion.finish_reason, usage=completion.usage)

    def _deltas(
        self, events: Any, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[CompletionDelta]:
        from botocore.exceptions import BotoCoreError, ClientError

        buffer = b""
        reason, tokens = "stop", 0
        stops = set(params.stop)
        try:
            for event in events:
                part = event.get("PayloadPart")
                if part is None:
                    continue
                buffer += part["Bytes"]
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    line = line.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data = json.loads(line[5:])
                    token = data.get("token") or {}
                    if token.get("special"):
                        continue
                    tokens += 1
                    text = token.get("text", "")
                    if text and text not in stops:
                        yield CompletionDelta(text=text)
                    details = data.get("details")
                    if details:
                        reason = _FINISH.get(details.get("finish_reason", ""), "stop")
                        tokens = int(details.get("generated_tokens", tokens))
        except (BotoCoreError, ClientError) as exc:
            raise LLMError(f"SageMaker endpoint {self.config.endpoint_name} stream broke off: {exc}") from exc
        finally:
            events.close()  # the consumer went away: drop the connection
        usage = TokenUsage(prompt_tokens=estimate_tokens(messages), completion_tokens=tokens)
        yield CompletionDelta(finish_reason=reason, usage=usage)  # type: ignore[arg-type]


def _strip_stops(text: str, stops: Sequence[str]) -> str:
    """TGI keeps the stop sequence at the end of the text; the port's contract leaves it out."""
    for stop in stops:
        if stop and text.endswith(stop):
            return text[: -len(stop)]
    return text

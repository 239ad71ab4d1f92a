"""The SageMaker adapter against a local stand-in that speaks the SageMaker runtime protocol
(`invoke_endpoint` and `invoke_endpoint_with_response_stream` with AWS event-stream frames), as a
Hugging Face TGI endpoint answers. AWS itself cannot be reached from here: this is the only check
of the wire format, through real boto3 with dummy credentials."""

from __future__ import annotations

import binascii
import json
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from llm_engineering.domain.llm import ChatMessage, GenerationParams, LLMError

TOKENS = ["Hello", " from", " the", " twin", "."]


def event_frame(payload: bytes) -> bytes:
    """One AWS event-stream message carrying a PayloadPart event."""

    def header(name: str, value: str) -> bytes:
        n, v = name.encode(), value.encode()
        return bytes([len(n)]) + n + bytes([7]) + struct.pack(">H", len(v)) + v

    headers = (
        header(":event-type", "PayloadPart")
        + header(":content-type", "application/octet-stream")
        + header(":message-type", "event")
    )
    prelude = struct.pack(">II", 12 + len(headers) + len(payload) + 4, len(headers))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + headers + payload
    return message + struct.pack(">I", binascii.crc32(message))


class Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append((self.path, body))
        if self.path.endswith("/missing/invocations"):
            error = {"__type": "ValidationError", "message": "Endpoint missing not found."}
            self._send(
                400, json.dumps(error).encode(), "application/json", {"x-amzn-ErrorType": "ValidationError"}
            )
            return
        tokens = TOKENS[: body["parameters"]["max_new_tokens"]]
        reason = "length" if len(tokens) < len(TOKENS) else "eos_token"
        details = {"finish_reason": reason, "generated_tokens": len(tokens)}
        if self.path.endswith("/invocations"):
            answer = [{"generated_text": "".join(tokens), "details": details}]
            self._send(200, json.dumps(answer).encode(), "application/json")
            return
        lines = b""
        for i, text in enumerate(tokens):
            event = {
                "token": {"id": i, "text": text, "special": False},
                "generated_text": None,
                "details": None,
            }
            if i == len(tokens) - 1:
                event.update(generated_text="".join(tokens), details=details)
            lines += b"data:" + json.dumps(event).encode() + b"\n\n"
        # TGI's lines are cut anywhere by the frames: split into 7-byte parts
        frames = b"".join(event_frame(lines[i : i + 7]) for i in range(0, len(lines), 7))
        self._send(200, frames, "application/vnd.amazon.eventstream")

    def _send(self, status: int, data: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def llm(endpoint_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from llm_engineering.infrastructure.llm.sagemaker import SageMakerConfig, SageMakerLLM

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    Handler.requests.clear()
    return SageMakerLLM(SageMakerConfig(endpoint_name="twin-tgi", endpoint_url=endpoint_url, max_retries=0))


MESSAGES = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi?")]


def test_invoke_endpoint_sends_tgi_payload(llm: Any) -> None:
    result = llm.complete(MESSAGES, GenerationParams(max_tokens=50, temperature=0.7, top_p=0.9, stop=("\n",)))
    assert result.text == "".join(TOKENS)
    assert result.finish_reason == "stop" and result.usage.completion_tokens == len(TOKENS)
    path, body = Handler.requests[-1]
    assert path == "/endpoints/twin-tgi/invocations"
    assert body["inputs"] == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"
    )
    params = body["parameters"]
    assert params["max_new_tokens"] == 50 and params["temperature"] == 0.7 and params["top_p"] == 0.9
    assert params["do_sample"] is True and params["stop"] == ["\n"]


def test_greedy_payload_has_no_temperature(llm: Any) -> None:
    llm.complete(MESSAGES, GenerationParams(max_tokens=2))
    params = Handler.requests[-1][1]["parameters"]
    assert params["do_sample"] is False and "temperature" not in params and "top_p" not in params


def test_stream_reassembles_tgi_lines_across_event_frames(llm: Any) -> None:
    deltas = list(llm.stream(MESSAGES, GenerationParams(max_tokens=3)))
    assert [d.text for d in deltas[:-1]] == TOKENS[:3]
    assert deltas[-1].finish_reason == "length" and deltas[-1].usage.completion_tokens == 3
    assert Handler.requests[-1][0] == "/endpoints/twin-tgi/invocations-response-stream"
    assert Handler.requests[-1][1]["stream"] is True


def test_endpoint_error_is_one_clear_line(endpoint_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_engineering.infrastructure.llm.sagemaker import SageMakerConfig, SageMakerLLM

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    llm = SageMakerLLM(SageMakerConfig(endpoint_name="missing", endpoint_url=endpoint_url, max_retries=0))
    with pytest.raises(LLMError, match="SageMaker endpoint missing failed"):
        llm.complete(MESSAGES, GenerationParams())

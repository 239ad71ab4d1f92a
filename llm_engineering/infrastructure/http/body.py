"""Reading a streamed response body without ever holding more than a cap in memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


def read_capped(response: httpx.Response, limit: int) -> bytes | None:
    """The body of a streamed response, or None as soon as it grows past `limit` bytes.

    A Content-Length over the limit gives None before a single byte is read; a body without one
    is read chunk by chunk and abandoned at the first chunk past the limit.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)

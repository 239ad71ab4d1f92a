"""How this process shares its CPU cores between torch users.

A process serving the local LLM has one hot loop, the decode engine's thread, which runs torch
with every core. Any other thread that runs torch with more than one intra-op thread starts its
own OpenMP pool; once a process holds more OpenMP threads than cores, libgomp stops spinning
between parallel regions and every decode step waits on sleeping workers (measured here: 15 ms
a token alone, 27 ms with a second pool). So worker threads that embed queries or load models
run torch single-threaded: `single_threaded_torch` is their executor's initializer.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


def single_threaded_torch() -> None:
    """Give the calling thread one intra-op torch thread (a per-thread OpenMP/MKL setting)."""
    import torch

    torch.set_num_threads(1)


def single_threaded_executor(max_workers: int | None = None, name: str = "worker") -> ThreadPoolExecutor:
    """A thread pool whose threads run torch on one core each, leaving the rest to the decoder."""
    return ThreadPoolExecutor(
        max_workers=max_workers, thread_name_prefix=name, initializer=single_threaded_torch
    )


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run a block with `count` intra-op torch threads in this thread, then restore its setting:
    loading a model single-threaded keeps the caller's thread from starting an OpenMP pool."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)

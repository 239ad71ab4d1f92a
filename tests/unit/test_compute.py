"""The serving process's thread discipline: worker threads run torch on one core each."""

from __future__ import annotations

import torch

from llm_engineering.infrastructure.compute import single_threaded_executor


def test_executor_threads_run_torch_single_threaded_and_leave_the_caller_alone() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with single_threaded_executor(max_workers=2, name="probe") as pool:
            seen = list(pool.map(lambda _: torch.get_num_threads(), range(4)))
        assert seen == [1, 1, 1, 1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_torch_threads_restores_the_callers_setting_even_on_error() -> None:
    from llm_engineering.infrastructure.compute import torch_threads

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        try:
            with torch_threads(1):
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)

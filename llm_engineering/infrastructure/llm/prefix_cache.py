"""The KV of recent prompt prefixes, so that a prompt opening with one is prefilled from there on.

Every request of the twin opens with the same system prompt, and a chat's next turn opens with
all of its earlier turns. Prefilling those again is the one part of a request's work that
batching cannot share (a prompt's prefill is compute-bound), so the engine keeps their KV here:
the caller says how many leading tokens are likely to come back (`GenerationRequest.
reusable_prefix`: the rendered messages before the last), and a later prompt that starts with
them copies their KV instead of computing it. Entries are exact token sequences (no hashing, so
no collision can hand a prompt someone else's KV), evicted least recently used by bytes held.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class PrefixKV:
    """One prefix's keys and values, `[layers, kv heads, tokens, head_dim]` each."""

    keys: torch.Tensor
    values: torch.Tensor

    @property
    def length(self) -> int:
        return int(self.keys.shape[2])

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.values.nbytes


class PrefixCache:
    """Prefix KV by exact token sequence, least recently used out first, at most `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._entries: OrderedDict[tuple[int, ...], PrefixKV] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, tokens: Sequence[int]) -> bool:
        return tuple(tokens) in self._entries

    def longest(self, prompt: Sequence[int]) -> PrefixKV | None:
        """The longest cached prefix of `prompt`, shorter than it (its last position's logits are
        still to be computed), marked as just used; None when no entry opens the prompt."""
        best: tuple[int, ...] | None = None
        for tokens in self._entries:
            n = len(tokens)
            if n < len(prompt) and (best is None or n > len(best)) and tuple(prompt[:n]) == tokens:
                best = tokens
        if best is None:
            return None
        self._entries.move_to_end(best)
        return self._entries[best]

    def add(self, tokens: Sequence[int], kv: PrefixKV) -> None:
        """Keep `kv` for `tokens`, evicting the least recently used entries to stay in budget."""
        key = tuple(tokens)
        if key in self._entries:
            self._entries.move_to_end(key)
            return
        if kv.nbytes > self.max_bytes:
            return
        self._entries[key] = kv
        self.nbytes += kv.nbytes
        while self.nbytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.nbytes -= evicted.nbytes

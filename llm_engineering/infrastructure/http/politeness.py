"""Per-domain politeness (the `Limiter` port): a cap on parallel requests, a gap between starts.

Every request of the run, from any worker thread, goes through one `DomainLimiter`, so a list of
fifty links on one blog never hammers that blog, whatever the number of workers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from loguru import logger


class DomainLimiter:
    """Thread-safe gate per domain: at most `per_domain` requests at once, `delay` s between starts."""

    def __init__(self, per_domain: int, delay: float) -> None:
        if per_domain < 1:
            raise ValueError(f"per_domain must be >= 1, got {per_domain}")
        if delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay}")
        self.per_domain = per_domain
        self.delay = delay
        self._cond = threading.Condition()
        self._active: dict[str, int] = {}
        #: monotonic time before which no new request to the domain may start
        self._not_before: dict[str, float] = {}

    @contextmanager
    def slot(self, domain: str) -> Iterator[None]:
        """Block until a request to `domain` may start; hold the slot while it runs."""
        domain = domain.lower()
        with self._cond:
            while True:
                now = time.monotonic()
                active = self._active.get(domain, 0)
                not_before = self._not_before.get(domain, 0.0)
                if active < self.per_domain and now >= not_before:
                    break
                # A finishing request or a changed pause wakes us; a pending gap is waited out.
                self._cond.wait(timeout=None if active >= self.per_domain else not_before - now)
            self._active[domain] = active + 1
            self._not_before[domain] = max(not_before, now + self.delay)
        try:
            yield
        finally:
            with self._cond:
                self._active[domain] -= 1
                if not self._active[domain]:
                    del self._active[domain]
                self._cond.notify_all()

    def pause(self, domain: str, seconds: float) -> None:
        """Hold every new request to `domain` for `seconds` (a server's Retry-After applies to all)."""
        if seconds <= 0:
            return
        domain = domain.lower()
        with self._cond:
            until = time.monotonic() + seconds
            if until > self._not_before.get(domain, 0.0):
                self._not_before[domain] = until
                logger.info("Pausing requests to {} for {:.1f}s (server asked to slow down)", domain, seconds)
            self._cond.notify_all()

"""DomainLimiter on its own and through the fetcher, timed on the server side."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from llm_engineering.infrastructure.http.politeness import DomainLimiter

#: scheduling slack between the client taking its slot and the server seeing the request line
SLACK = 0.02


def test_fetches_to_one_host_never_overlap_and_are_spaced(make_context, scripted_server) -> None:
    fetcher = make_context(CRAWL_PER_DOMAIN_CONCURRENCY=1, CRAWL_DOMAIN_DELAY=0.2).http
    url = f"{scripted_server.base_url}/timed"
    with ThreadPoolExecutor(max_workers=5) as pool:
        pages = list(pool.map(lambda _: fetcher.get(url), range(5)))
    assert all(page.status == 200 for page in pages)
    hits = sorted(scripted_server.hits, key=lambda hit: hit.start)
    assert [hit.path for hit in hits].count("/timed") == 5
    for before, after in itertools.pairwise(hits):
        assert after.start >= before.end, f"{before} and {after} overlap"
        assert after.start - before.start >= 0.2 - SLACK, f"{before} and {after} are too close"


def test_per_domain_cap_and_independent_domains() -> None:
    limiter = DomainLimiter(per_domain=2, delay=0.0)
    active: dict[str, int] = {"a.test": 0, "b.test": 0}
    peak: dict[str, int] = {"a.test": 0, "b.test": 0, "all": 0}
    lock = threading.Lock()

    def work(domain: str) -> None:
        with limiter.slot(domain):
            with lock:
                active[domain] += 1
                peak[domain] = max(peak[domain], active[domain])
                peak["all"] = max(peak["all"], sum(active.values()))
            time.sleep(0.05)
            with lock:
                active[domain] -= 1

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(work, ["a.test", "b.test"] * 6))
    # Two at a time per domain, and one domain's requests never wait for the other's.
    assert peak == {"a.test": 2, "b.test": 2, "all": 4}


def test_pause_holds_every_request_to_the_domain() -> None:
    limiter = DomainLimiter(per_domain=4, delay=0.0)
    limiter.pause("slow.test", 0.3)
    started = time.monotonic()
    with limiter.slot("slow.test"):
        waited = time.monotonic() - started
    with limiter.slot("other.test"):
        other = time.monotonic() - started - waited
    assert waited >= 0.28
    assert other < 0.05

"""A reader process for test_vector_releases: query the current release in a loop, refreshing.

Usage: python reader_loop.py VECTOR_DIR OUT_JSON EXPECTED_COUNT TIMEOUT_S
Writes OUT_JSON.ready once open, then OUT_JSON with every (release, count) it saw, in order.
Any error escapes: the process exits non-zero with the traceback on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(root: Path, out: Path, expected: int, timeout: float) -> None:
    from llm_engineering.infrastructure.db.vector_releases import ReleaseReaderIndex

    index = ReleaseReaderIndex.open(root)
    seen: list[tuple[str | None, int]] = []
    queries = 0
    try:
        Path(f"{out}.ready").write_text(json.dumps({"release": index.release}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            index.refresh()
            count = index.count("chunks")
            hits = index.search("chunks", [1.0, 0.0, 0.0, 0.0], limit=3)
            if len(hits) != 3:
                raise AssertionError(f"expected 3 hits, got {hits}")
            queries += 1
            if not seen or seen[-1] != (index.release, count):
                seen.append((index.release, count))
            if count >= expected:
                break
    finally:
        index.close()
    out.write_text(json.dumps({"seen": seen, "queries": queries}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))

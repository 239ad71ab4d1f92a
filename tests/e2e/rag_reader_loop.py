"""A retrieval process for test_feature_pipeline: query the published vector DB in a loop, refreshing.

Usage: python rag_reader_loop.py QUERY READY_FILE STOP_FILE OUT_JSON   (DATA_DIR from the environment)
Writes READY_FILE (the release it opened) after its first query, then queries until STOP_FILE
exists, plus one last query after that, and writes every query's time, release and top links to
OUT_JSON. Any error escapes: the process exits non-zero with the traceback on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(query: str, ready: Path, stop: Path, out: Path) -> None:
    from llm_engineering import bootstrap
    from llm_engineering.application.rag.retriever import ContextRetriever
    from llm_engineering.settings import get_settings

    settings = get_settings()
    log: list[dict] = []
    with bootstrap.Services(settings).vector_reader() as index:
        retriever = ContextRetriever(index, bootstrap.build_embedder(settings))
        retriever.retrieve(query, 3)  # loads the model before the writer starts
        ready.write_text(str(index.release), encoding="utf-8")
        while True:
            stopping = stop.exists()
            index.refresh()
            started = time.time()
            hits = retriever.retrieve(query, 3)
            log.append({"t": started, "release": index.release, "links": [h.link for h in hits]})
            if stopping:
                break
            time.sleep(0.05)
    out.write_text(json.dumps(log), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))

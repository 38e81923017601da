"""A PostgreSQL build in a child process, for kill tests:
``python -m tests.pg_build_child DATABASE_URL CORPUS_DIR``.

It takes the reindex lock, begins a version on top of the live one, and adds the corpus's
briefings one by one, printing ``added <n>`` after each; then it waits to be killed (it never
seals or publishes).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from index.pg.backend import PgBackend
from index.pg.database import Database
from tests.fakes import FakeEmbedder
from tests.pg_helpers import add, parse_corpus


def main(url: str, corpus: str) -> None:
    emb = FakeEmbedder()
    backend = PgBackend(Database(url, min_size=1, max_size=2))
    parsed = parse_corpus(Path(corpus), emb)
    with backend.writer("child build") as writer:
        builder = writer.begin(backend.live_version(), model=emb.name, dim=emb.dim, chunker="test")
        print("began", builder.version, flush=True)
        for i, (meta, passages) in enumerate(parsed, 1):
            add(builder, emb, meta, passages)
            print("added", i, flush=True)
        time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

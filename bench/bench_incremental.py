"""Storage benchmark: one changed briefing reindexed in a large index, phase by phase; serving
memory and warm question latency of the same index.

    python bench/bench_incremental.py [--limit N] [--work DIR] [--repeat R] [--queries Q]
                                      [--real-encoder auto]

The index is synthetic: the White House archive (../shared/corpora; all 1,697 briefings, about
150k passages, by default) indexed with a fast deterministic embedder (hashed bag of words,
384 dimensions like all-MiniLM-L6-v2, sentence vectors on). What an incremental reindex spends
outside the encoder (scanning, copying the base, deleting, writing, FAISS, checksums, publishing,
cleaning up) depends on how many vectors there are and their size, not on which encoder made
them, so this measures the storage side fairly; question latency measured here is the index
side (the fake question encoder costs about 0.1 ms). ``--real-encoder`` also encodes the changed
briefing's re-embedded passages and sentences with a real backend and reports that separately.

Every stage runs in its own process (the build, the serving process), so peak memory is the
stage's own. ``--work`` (default /work/scale/synthetic) keeps corpus and index between runs.
Needs ../shared (never run by tests).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_scale import pct, write_corpus  # noqa: E402

from index.embedder import ProgressFn  # noqa: E402

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TOKEN = re.compile(r"\w+|[^\w\s]")


class HashEmbedder:
    """Hashed bag of words (crc32 of each word, a sign from its bits), L2-normalised: texts
    sharing words are similar, the same text always gets the same vector, across processes."""

    def __init__(self, dim: int = 384, max_tokens: int = 256, name: str = "synthetic-hash-384") -> None:
        self._dim, self._max_tokens, self._name = dim, max_tokens, name

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: ProgressFn | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            hs = np.array([zlib.crc32(w.encode()) for w in _WORD.findall(text.lower())], dtype=np.int64)
            if hs.size:
                np.add.at(out[row], hs % self._dim, np.where((hs >> 20) & 1, 1.0, -1.0))
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        if progress:
            progress(len(texts))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def _rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _current_rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def _service(work: Path) -> Any:
    from index.confidence import load_calibration
    from index.service import BriefingService, ServiceConfig

    config = ServiceConfig(corpus_dir=work / "corpus", index_dir=work / "index")
    return BriefingService(config, HashEmbedder(), load_calibration())


def role_build(work: Path) -> dict[str, Any]:
    """A full build of the synthetic index."""
    svc = _service(work)
    t = time.perf_counter()
    rep = svc.reindex(full=True)
    return {
        "build_seconds": round(time.perf_counter() - t, 1),
        "briefings": rep.briefings_total,
        "passages": rep.passages_total,
        "build_peak_mb": _rss_mb(),
        "build_phases": rep.phases,
    }


def role_serve(work: Path, queries: int, repeat: int) -> dict[str, Any]:
    """The serving process: load, warm questions, then one changed briefing reindexed
    ``repeat`` times (changed, then back), phase by phase, and questions after the switch."""
    from index.search import Viewer

    svc = _service(work)
    t = time.perf_counter()
    searcher = svc.searcher()
    out: dict[str, Any] = {"serve_load_seconds": round(time.perf_counter() - t, 2)}
    out["serve_rss_after_load_mb"] = _current_rss_mb()
    rng = random.Random(7)
    rows = searcher.index.store.connect().execute(
        "SELECT text FROM passages WHERE length(text) > 80 ORDER BY random() LIMIT ?", (queries * 2 + 20,)
    )
    questions = []
    for (text,) in rows:
        words = text.split()
        start = rng.randrange(0, max(1, len(words) - 12))
        questions.append("What about " + " ".join(words[start : start + 10]) + "?")
    metas = searcher.index.briefings()

    def latencies(qs: list[str], **kw: Any) -> list[float]:
        lat = []
        for q in qs:
            t = time.perf_counter()
            svc.ask(q, viewer=Viewer(is_moderator=True), **kw)
            lat.append((time.perf_counter() - t) * 1000)
        return lat

    latencies(questions[:20])  # warm up
    plain = latencies(questions[20 : 20 + queries])
    out.update(query_ms_p50=pct(plain, 0.5), query_ms_p95=pct(plain, 0.95), queries=len(plain))
    one = latencies(questions[20 + queries :], briefing_id=rng.choice(metas).briefing_id)
    out.update(briefing_filter_ms_p50=pct(one, 0.5), briefing_filter_ms_p95=pct(one, 0.95))
    out["serve_rss_after_questions_mb"] = _current_rss_mb()
    # The lexical part of a question on its own (FTS5 BM25 over the OR of its terms): the
    # largest share of a question's time at this size.
    from index.store import query_terms

    lexical = []
    for q in questions[20 : 20 + queries]:
        t = time.perf_counter()
        searcher.index.store.lexical_search(query_terms(q), 60)
        lexical.append((time.perf_counter() - t) * 1000)
    out.update(lexical_ms_p50=pct(lexical, 0.5), lexical_ms_p95=pct(lexical, 0.95))
    out["approximate"] = bool(searcher.index.vectors.approximate)

    victim = sorted((work / "corpus").glob("*.txt"))[len(metas) // 2]
    original = victim.read_text(encoding="utf-8")
    con = searcher.index.store.connect()
    before = {
        h for (h,) in con.execute("SELECT embed_hash FROM passages WHERE briefing_id=?", (victim.stem,))
    }
    runs: list[dict[str, Any]] = []
    try:
        for i in range(repeat):
            changed = original.replace(" the ", " The ", 3) if i % 2 == 0 else original
            victim.write_text(changed, encoding="utf-8")
            t = time.perf_counter()
            rep = svc.reindex()
            total = time.perf_counter() - t
            t = time.perf_counter()
            svc.ask(questions[0])  # the first question on the new version loads it
            switch = time.perf_counter() - t
            runs.append(
                {
                    "seconds": round(total, 3),
                    "embedded": rep.passages_embedded,
                    "first_question_after_s": round(switch, 3),
                    "phases": rep.phases,
                }
            )
            if i == 0:
                _save_changed(work, svc, victim.stem, before)
        # The worst case of one changed briefing: its reindex writes a new vector base (the
        # delta outgrew its share of the base).
        from index import version_vectors

        share, least = version_vectors.DELTA_SHARE, version_vectors.DELTA_MIN
        version_vectors.DELTA_SHARE, version_vectors.DELTA_MIN = 0.0, 0
        try:
            victim.write_text(original.replace(" the ", " The ", 2), encoding="utf-8")
            t = time.perf_counter()
            rep = svc.reindex()
            out["reindex_new_base"] = {"seconds": round(time.perf_counter() - t, 3), "phases": rep.phases}
        finally:
            version_vectors.DELTA_SHARE, version_vectors.DELTA_MIN = share, least
    finally:
        victim.write_text(original, encoding="utf-8")
        svc.reindex()
    out["victim"] = victim.name
    out["reindex_runs"] = runs
    after = latencies(questions[20 : 20 + queries])
    out.update(query_after_ms_p50=pct(after, 0.5), query_after_ms_p95=pct(after, 0.95))
    out["serve_peak_mb"] = _rss_mb()
    out["serve_rss_end_mb"] = _current_rss_mb()
    return out


def role_real(work: Path, encoder: str) -> dict[str, Any]:
    """Seconds a real encoder takes for what one changed briefing re-embedded (its changed
    passages and their sentences, as the serving stage saved them)."""
    from bot.app import build_embedder
    from bot.settings import Settings

    os.environ["BRIEFBOT_ENCODER"] = encoder
    os.environ["BRIEFBOT_INDEX_DIR"] = str(work / "real-encoder")  # its exported model is cached there
    changed = json.loads((work / "changed_texts.json").read_text(encoding="utf-8"))
    embedder = build_embedder(Settings())
    embedder.encode(["warm up"])
    t = time.perf_counter()
    embedder.encode(changed["passages"])
    if changed["sentences"]:
        embedder.encode(changed["sentences"])
    return {
        "real_encoder": embedder.name,
        "real_passages": len(changed["passages"]),
        "real_sentences": len(changed["sentences"]),
        "real_encode_seconds": round(time.perf_counter() - t, 3),
    }


def _save_changed(work: Path, svc: Any, bid: str, before: set[str]) -> None:
    """The texts the first changed reindex re-embedded (for ``--real-encoder``)."""
    from index.build import embed_hash, embed_text

    index = svc.searcher().index
    meta = index.briefing(bid)
    fresh = [
        p
        for p in index.store.briefing_passages(bid)
        if embed_hash(svc.embedder.name, embed_text(meta, p)) not in before
    ]
    data = {
        "passages": [embed_text(meta, p) for p in fresh],
        "sentences": [p.text[a:b] for p in fresh for a, b in p.sentences],
    }
    (work / "changed_texts.json").write_text(json.dumps(data), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="first N briefings (default: all 1,697)")
    ap.add_argument("--work", type=Path, default=Path("/work/scale/synthetic"))
    ap.add_argument("--repeat", type=int, default=6, help="incremental reindexes (changed, back, ...)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--real-encoder", default=None, help="also time a real encoder on the changed passages")
    ap.add_argument("--role", choices=["build", "serve", "real"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    work: Path = args.work
    if args.role == "build":
        print(json.dumps(role_build(work)))
        return
    if args.role == "serve":
        print(json.dumps(role_serve(work, args.queries, args.repeat)))
        return
    if args.role == "real":
        print(json.dumps(role_real(work, args.real_encoder)))
        return

    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"load_average_start": round(os.getloadavg()[0], 2)}
    results["briefings_in_corpus"] = write_corpus(work / "corpus", args.limit)
    me = [sys.executable, str(Path(__file__)), "--work", str(work)]
    saved = work / "build.json"
    if args.rebuild or not saved.exists() or json.loads(saved.read_text()).get("limit") != args.limit:
        build = json.loads(
            subprocess.run([*me, "--role", "build"], capture_output=True, text=True, check=True).stdout
        )
        build["limit"] = args.limit
        saved.write_text(json.dumps(build, indent=2))
    results.update(json.loads(saved.read_text()))
    live = (work / "index" / "CURRENT").read_text().strip()
    version_dir = work / "index" / "versions" / live
    results["live_version_files_mb"] = {
        p.name: round(p.stat().st_size / 1e6, 1) for p in sorted(version_dir.rglob("*")) if p.is_file()
    }
    serve = subprocess.run(
        [*me, "--role", "serve", "--queries", str(args.queries), "--repeat", str(args.repeat)],
        capture_output=True,
        text=True,
        check=False,
    )
    if serve.returncode:
        raise SystemExit(serve.stderr[-4000:])
    results.update(json.loads(serve.stdout))
    results["load_average_end"] = round(os.getloadavg()[0], 2)
    if args.real_encoder:
        real = subprocess.run(
            [*me, "--role", "real", "--real-encoder", args.real_encoder],
            capture_output=True,
            text=True,
            check=True,
        )
        results.update(json.loads(real.stdout))
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k != "reindex_runs"}, indent=2))
    runs = results["reindex_runs"]
    phases = sorted({k for r in runs for k in r["phases"]}, key=lambda k: list(runs[0]["phases"]).index(k))
    print("\none changed briefing, seconds per phase (median of runs):")
    for k in phases:
        print(f"  {k:10s} {statistics.median(r['phases'].get(k, 0.0) for r in runs):8.3f}")
    print(f"  {'total':10s} {statistics.median(r['seconds'] for r in runs):8.3f}")
    print(f"  re-embedded passages per run: {[r['embedded'] for r in runs]}")
    print(f"  the same, writing a new vector base (worst case): {results['reindex_new_base']['seconds']} s")


if __name__ == "__main__":
    main()

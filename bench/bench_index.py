"""Benchmark on a slice of the White House press briefings (../shared/corpora): indexing
throughput against raw model.encode, incremental reindex, query latency, cold start, size, memory.

    python bench/bench_index.py [--passages 5000] [--out bench/results.json]

Prints one line per figure and writes them as JSON. Needs ../shared (never run by tests).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from index.build import BuildOptions, embed_text
from index.chunking import ChunkOptions, make_passages
from index.embedder import SentenceTransformerEmbedder
from index.parsing import parse_briefing
from index.service import BriefingService, ServiceConfig

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "whitehouse-press-briefings.jsonl.gz"


def write_slice(dest: Path, target_passages: int, emb: SentenceTransformerEmbedder) -> list[Path]:
    """Write briefings until the slice holds about ``target_passages`` passages."""
    dest.mkdir(parents=True)
    files: list[Path] = []
    total = 0
    with gzip.open(SHARED, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            front = {
                "title": row["title"],
                "date": row["published_at"],
                "source": row.get("source") or "White House",
            }
            body = f"---\n{yaml.safe_dump(front, allow_unicode=True)}---\n\n{row['text']}\n"
            name = f"{row['published_at']}-{row['id']}.txt"
            doc = parse_briefing(name, body.encode("utf-8"))
            n = len(
                make_passages(doc.meta.briefing_id, doc.text, doc.blocks, emb.count_tokens, ChunkOptions())
            )
            path = dest / name
            path.write_text(body, encoding="utf-8")
            files.append(path)
            total += n
            if total >= target_passages:
                break
    return files


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    results: dict[str, object] = {}

    def report(key: str, value: object, label: str) -> None:
        results[key] = value
        print(f"{label}: {value}", flush=True)

    emb = SentenceTransformerEmbedder()
    tmp = Path(tempfile.mkdtemp(prefix="briefbot-bench-"))
    try:
        corpus = tmp / "corpus"
        files = write_slice(corpus, args.passages, emb)
        report("briefings", len(files), "briefings in the slice")

        # Full build, sentence vectors on (the default).
        svc = BriefingService(ServiceConfig(corpus, tmp / "index"), emb)
        emb.warm_up()
        t0 = time.perf_counter()
        rep = svc.reindex()
        full = time.perf_counter() - t0
        report("passages", rep.passages_total, "passages")
        report("full_build_seconds", round(full, 1), "full build, seconds (passages + sentence vectors)")
        report("build_passages_per_s", round(rep.passages_total / full, 1), "build throughput, passages/s")

        # The same passages through raw model.encode, for comparison.
        s = svc.searcher()
        metas = {m.briefing_id: m for m in s.index.store.briefings()}
        texts = [
            embed_text(metas[sp.passage.briefing_id], sp.passage) for sp in s.index.store.iter_passages()
        ]
        sentences = [
            sp.passage.text[a:b] for sp in s.index.store.iter_passages() for a, b in sp.passage.sentences
        ]
        t0 = time.perf_counter()
        emb.model.encode(texts, batch_size=32, normalize_embeddings=True)
        raw = time.perf_counter() - t0
        report("raw_encode_passages_per_s", round(len(texts) / raw, 1), "raw model.encode, passages/s")
        t0 = time.perf_counter()
        emb.model.encode(sentences, batch_size=32, normalize_embeddings=True)
        raw_sent = time.perf_counter() - t0
        report("sentences", len(sentences), "sentences embedded beside passages")
        report(
            "build_vs_raw_encode",
            round((raw + raw_sent) / full, 3),
            "build time vs raw encode of the same passages and sentences (1.0 = no overhead)",
        )

        # Without sentence vectors.
        svc2 = BriefingService(
            ServiceConfig(corpus, tmp / "index-nosent", build=BuildOptions(sentence_vectors=False)), emb
        )
        t0 = time.perf_counter()
        svc2.reindex()
        nosent = time.perf_counter() - t0
        report(
            "build_no_sentences_passages_per_s",
            round(rep.passages_total / nosent, 1),
            "build throughput without sentence vectors, passages/s",
        )
        report(
            "build_no_sentences_vs_raw_encode",
            round(raw / nosent, 3),
            "  as a share of raw model.encode throughput",
        )

        # Incremental reindexes.
        t0 = time.perf_counter()
        r = svc.reindex()
        report(
            "reindex_unchanged_seconds",
            round(time.perf_counter() - t0, 2),
            "reindex, nothing changed, seconds",
        )
        victim = files[len(files) // 2]
        victim.write_text(victim.read_text(encoding="utf-8").replace(" the ", " The ", 3), encoding="utf-8")
        t0 = time.perf_counter()
        r = svc.reindex()
        report(
            "reindex_one_changed_seconds",
            round(time.perf_counter() - t0, 2),
            f"reindex, one briefing changed ({r.passages_embedded} passages re-embedded), seconds",
        )
        files[0].unlink()
        t0 = time.perf_counter()
        r = svc.reindex()
        report(
            "reindex_one_removed_seconds",
            round(time.perf_counter() - t0, 2),
            f"reindex, one briefing removed ({r.passages_removed} passages), seconds",
        )

        # Query latency, warm, one at a time.
        rng = random.Random(7)
        pool = [sp.passage for sp in svc.searcher().index.store.iter_passages() if len(sp.passage.text) > 80]
        questions = []
        for p in rng.sample(pool, args.queries):
            words = p.text.split()
            questions.append("What about " + " ".join(words[: min(12, len(words))]) + "?")
        svc.ask("warm up")
        lat = []
        for q in questions:
            t0 = time.perf_counter()
            svc.ask(q)
            lat.append((time.perf_counter() - t0) * 1000)
        lat.sort()
        report("query_ms_p50", round(statistics.median(lat), 1), "query latency p50, ms (warm)")
        report("query_ms_p95", round(lat[int(0.95 * len(lat)) - 1], 1), "query latency p95, ms (warm)")

        # Cold start: a fresh process answering one question from the built index; GNU time
        # reports that process's own peak memory.
        env = dict(os.environ, BRIEFBOT_CORPUS_DIR=str(corpus), BRIEFBOT_INDEX_DIR=str(tmp / "index"))
        t0 = time.perf_counter()
        out = subprocess.run(
            ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "bot", "ask", questions[0], "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        report(
            "cold_first_answer_seconds",
            round(time.perf_counter() - t0, 2),
            "time to first answer from a cold start (new process), seconds",
        )
        json.loads(out.stdout)
        peak_kb = int(out.stderr.strip().splitlines()[-1])
        report("cold_process_peak_mb", round(peak_kb / 1024), "peak memory of that process, MB")

        size = du(svc.layout.version_dir(svc.status().version or ""))
        report("index_mb", round(size / 1e6, 1), "index version size on disk, MB")
        report(
            "bench_process_peak_mb",
            round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "peak memory of the benchmark process (model, build, queries), MB",
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

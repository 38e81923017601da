"""Scale benchmark on the White House press briefings archive (../shared/corpora): full build,
throughput against raw encoding, memory, size, question latency (plain, date filter, briefing
filter, during a reindex), an incremental reindex and a cold one-shot ``briefbot ask``.

    python bench/bench_scale.py [--limit N] [--encoder auto|torch|onnx|onnx-int8|openvino]
                                [--work DIR] [--out results.json]

Each stage runs in its own process (the build, the serving process, raw encoding, the cold
ask), so each peak memory is that stage's own. ``--work`` keeps the corpus and the index between
runs: a second run with the same encoder and slice reuses the built index and its figures
(``--rebuild`` forces a new build). Needs ../shared (never run by tests).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT.parent / "shared" / "corpora" / "whitehouse-press-briefings.jsonl.gz"
if not ARCHIVE.exists():
    ARCHIVE = Path("/work/shared/corpora/whitehouse-press-briefings.jsonl.gz")


def write_corpus(dest: Path, limit: int | None) -> int:
    """The first ``limit`` briefings as files with front matter; returns how many."""
    marker = dest / ".complete"
    if marker.exists() and json.loads(marker.read_text())["limit"] == limit:
        return int(json.loads(marker.read_text())["briefings"])
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    with gzip.open(ARCHIVE, "rt", encoding="utf-8") as fh:
        for line in fh:
            if limit is not None and n >= limit:
                break
            row = json.loads(line)
            front = {"title": row["title"], "date": row["published_at"], "source": "White House"}
            if row.get("url"):
                front["url"] = row["url"]
            body = f"---\n{yaml.safe_dump(front, allow_unicode=True)}---\n\n{row['text']}\n"
            (dest / f"{row['published_at']}-{row['id']}.txt").write_text(body, encoding="utf-8")
            n += 1
    marker.write_text(json.dumps({"limit": limit, "briefings": n}))
    return n


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run ``cmd``; returns (seconds, peak RSS in MB of that process, stdout)."""
    t0 = time.perf_counter()
    out = subprocess.run(
        ["/usr/bin/time", "-f", "PEAK_KB %M", *cmd], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    peak = [ln for ln in out.stderr.splitlines() if ln.startswith("PEAK_KB ")][-1]
    return seconds, int(peak.split()[1]) // 1024, out.stdout


def du_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, round(q * len(s)) - 1))], 1)


# ---------------------------------------------------------------------- child roles


def _settings(index_dir: Path, corpus: Path) -> Any:
    from bot.settings import Settings

    return Settings(corpus_dir=corpus, index_dir=index_dir)


def role_serve(work: Path, queries: int, reindex_briefings: int) -> dict[str, Any]:
    """The serving process: warm questions, filters, questions during a reindex, an
    incremental reindex; prints figures as JSON."""
    from bot.app import build_service
    from index.search import Viewer

    settings = _settings(work / "index", work / "corpus")
    svc = build_service(settings)
    t0 = time.perf_counter()
    searcher = svc.searcher()
    out: dict[str, Any] = {"serve_load_seconds": round(time.perf_counter() - t0, 2)}
    svc.embedder.encode_query("warm up")  # type: ignore[attr-defined]
    rng = random.Random(7)
    store = searcher.index.store
    metas = searcher.index.briefings()
    # Sampled in Python: ORDER BY random() would sort every passage's text in this process's
    # memory and inflate the serving figures.
    con = store.connect()
    vids = [v for (v,) in con.execute("SELECT vid FROM passages WHERE length(text) > 80")]
    picked = rng.sample(vids, min(len(vids), queries * 3))
    sample = [con.execute("SELECT text FROM passages WHERE vid = ?", (v,)).fetchone() for v in picked]
    questions = []
    for (text,) in sample:
        words = text.split()
        start = rng.randrange(0, max(1, len(words) - 12))
        questions.append("What about " + " ".join(words[start : start + 10]) + "?")
    questions = questions[: queries * 3]
    dates = sorted(m.date for m in metas if m.date)
    since = dates[len(dates) // 2] if dates else None

    def latencies(qs: list[str], **kw: Any) -> list[float]:
        lat = []
        for q in qs:
            t = time.perf_counter()
            svc.ask(q, viewer=Viewer(is_moderator=True), **kw)
            lat.append((time.perf_counter() - t) * 1000)
        return lat

    for q in questions[:10]:
        svc.ask(q)
    plain = latencies(questions[:queries])
    out.update(query_ms_p50=pct(plain, 0.5), query_ms_p95=pct(plain, 0.95))
    dated = latencies(questions[queries : 2 * queries], since=since)
    out.update(date_filter_ms_p50=pct(dated, 0.5), date_filter_ms_p95=pct(dated, 0.95), since=str(since))
    one = latencies(
        questions[2 * queries : 3 * queries], briefing_id=rng.choice(metas).briefing_id if metas else None
    )
    out.update(briefing_filter_ms_p50=pct(one, 0.5), briefing_filter_ms_p95=pct(one, 0.95))
    out["serving_rss_mb"] = _rss_mb()
    out["serving_peak_mb_questions"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    # Questions while a full reindex of a slice runs in this process (same embedder: the
    # question runner and the bulk runner are separate).
    from index.service import BriefingService, ServiceConfig

    side_corpus = work / "corpus-reindex"
    if not side_corpus.exists():
        side_corpus.mkdir()
        for path in sorted((work / "corpus").glob("*.txt"))[:reindex_briefings]:
            os.link(path, side_corpus / path.name)
    side = BriefingService(ServiceConfig(side_corpus, work / "index-reindex"), svc.embedder)
    done = threading.Event()
    box: dict[str, Any] = {}

    def run_reindex() -> None:
        t = time.perf_counter()
        box["report"] = side.reindex(full=True)
        box["seconds"] = time.perf_counter() - t
        done.set()

    thread = threading.Thread(target=run_reindex)
    thread.start()
    time.sleep(2.0)  # let the reindex reach the encoder
    during: list[float] = []
    i = 0
    while not done.is_set():
        during.extend(latencies([questions[i % len(questions)]]))
        i += 1
        time.sleep(0.05)  # a busy channel, not a flood
    thread.join()
    out.update(
        during_reindex_ms_p50=pct(during, 0.5) if during else None,
        during_reindex_ms_p95=pct(during, 0.95) if during else None,
        during_reindex_questions=len(during),
        side_reindex_passages=box["report"].passages_total,
        side_reindex_seconds=round(box["seconds"], 1),
    )

    # One changed briefing.
    victim = sorted((work / "corpus").glob("*.txt"))[len(metas) // 2]
    original = victim.read_text(encoding="utf-8")
    victim.write_text(original.replace(" the ", " The ", 3), encoding="utf-8")
    try:
        t = time.perf_counter()
        rep = svc.reindex()
        out["reindex_one_changed_seconds"] = round(time.perf_counter() - t, 2)
        out["reindex_one_changed_embedded"] = rep.passages_embedded
    finally:
        victim.write_text(original, encoding="utf-8")
    t = time.perf_counter()
    svc.reindex()  # back to the original text (also incremental)
    out["reindex_back_seconds"] = round(time.perf_counter() - t, 2)
    out["serving_peak_mb_incl_reindexes"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["question_sample"] = questions[0]
    # Last: it holds an exact copy of every vector, which is not the serving process's memory.
    out.update(ivf_recall(svc, questions[:queries]))
    return out


def _rss_mb() -> int:
    """This process's resident memory now (mapped file pages it touched included)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def ivf_recall(svc: Any, questions: list[str]) -> dict[str, Any]:
    """Recall of the IVF index against exact search on this archive's questions: the dense
    candidates (recall@60) and the answer people see (same top quote, same top-5 set), at
    several probe counts. On an index below the exact limit, an IVF index is built for it."""
    from index.vectors import FaissVectorStore

    searcher = svc.searcher()
    exact_store = searcher.index.vectors
    ids, vecs = exact_store.all()
    exact = FaissVectorStore(exact_store.dim)
    exact.add(ids.tolist(), vecs)
    ivf = exact_store if exact_store.approximate else exact.sized(0)
    qvecs = [svc.embedder.encode_query(q) for q in questions]
    truth = [exact.search(v, 60) for v in qvecs]
    searcher.index.vectors = exact
    answers = [[q.passage_id for q in svc.ask(x).quotes] for x in questions]
    import faiss

    mapped = getattr(ivf, "ivf", None)  # a served IVF version: its memory-mapped base
    index: Any = faiss.downcast_index((mapped() if mapped else ivf)._index)
    out: dict[str, Any] = {"ivf_nlist": int(index.nlist)}
    default = int(index.nprobe)
    for nprobe in (16, 32, 48, 64, 96):
        index.nprobe = nprobe
        t = time.perf_counter()
        got = [ivf.search(v, 60) for v in qvecs]
        ms = (time.perf_counter() - t) * 1000 / len(qvecs)
        rec = statistics.mean(
            len({i for i, _ in a} & {i for i, _ in b}) / max(1, len(a))
            for a, b in zip(truth, got, strict=True)
        )
        searcher.index.vectors = ivf
        same = [[q.passage_id for q in svc.ask(x).quotes] for x in questions]
        top1 = statistics.mean(a[:1] == b[:1] for a, b in zip(answers, same, strict=True))
        top5 = statistics.mean(set(a) == set(b) for a, b in zip(answers, same, strict=True))
        out[f"ivf_nprobe{nprobe}"] = {
            "recall@60": round(rec, 3),
            "same_top_quote": round(top1, 3),
            "same_quotes": round(top5, 3),
            "dense_ms": round(ms, 2),
        }
    index.nprobe = default
    t = time.perf_counter()
    for v in qvecs:
        exact.search(v, 60)
    out["exact_dense_ms"] = round((time.perf_counter() - t) * 1000 / len(qvecs), 2)
    searcher.index.vectors = exact_store
    return out


def role_raw(work: Path, encoder: str, sample: int) -> dict[str, Any]:
    """Raw encoding of a random sample of the built passages (embedded text) and sentences:
    torch ``model.encode`` and the chosen encoder's own bulk encode, same texts, same process."""
    from bot.app import build_embedder
    from bot.settings import Settings
    from index.build import embed_text
    from index.embedder import SentenceTransformerEmbedder
    from index.search import IndexVersion
    from index.versions import IndexLayout

    layout = IndexLayout(work / "index")
    version = IndexVersion(layout.version_dir(layout.current_version() or ""), verify_checksums=False)
    con = version.store.connect()
    vids = [r[0] for r in con.execute("SELECT vid FROM passages ORDER BY random() LIMIT ?", (sample,))]
    stored = version.store.passages(vids)
    texts = [embed_text(version.briefing(sp.passage.briefing_id), sp.passage) for sp in stored.values()]  # type: ignore[arg-type]
    sentences = [sp.passage.text[a:b] for sp in stored.values() for a, b in sp.passage.sentences]
    out: dict[str, Any] = {"raw_sample_passages": len(texts), "raw_sample_sentences": len(sentences)}
    torch_emb = SentenceTransformerEmbedder()
    model = torch_emb.model
    model.encode(texts[:64], batch_size=32)
    t = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    out["raw_torch_passages_per_s"] = round(len(texts) / (time.perf_counter() - t), 1)
    t = time.perf_counter()
    model.encode(sentences, batch_size=32, normalize_embeddings=True)
    out["raw_torch_sentences_per_s"] = round(len(sentences) / (time.perf_counter() - t), 1)
    if encoder != "torch":
        emb = build_embedder(Settings(index_dir=work / "index", encoder=encoder))  # type: ignore[arg-type]
        emb.encode(texts[:64])
        t = time.perf_counter()
        emb.encode(texts)
        out["raw_encoder_passages_per_s"] = round(len(texts) / (time.perf_counter() - t), 1)
        t = time.perf_counter()
        emb.encode(sentences)
        out["raw_encoder_sentences_per_s"] = round(len(sentences) / (time.perf_counter() - t), 1)
    else:
        out["raw_encoder_passages_per_s"] = out["raw_torch_passages_per_s"]
        out["raw_encoder_sentences_per_s"] = out["raw_torch_sentences_per_s"]
    return out


# ---------------------------------------------------------------------- driver


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="first N briefings (default: all 1,697)")
    ap.add_argument("--encoder", default=os.environ.get("BRIEFBOT_ENCODER", "auto"))
    ap.add_argument("--work", type=Path, default=None, help="keeps corpus and index between runs")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--reindex-briefings", type=int, default=60, help="slice reindexed during questions")
    ap.add_argument("--raw-sample", type=int, default=3000, help="passages encoded raw, for the ratio")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--role", choices=["serve", "raw"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = args.work or Path(f"/tmp/briefbot-scale-{args.limit or 'all'}-{args.encoder}")

    if args.role == "serve":
        print(json.dumps(role_serve(work, args.queries, args.reindex_briefings)))
        return
    if args.role == "raw":
        print(json.dumps(role_raw(work, args.encoder, args.raw_sample)))
        return

    results: dict[str, Any] = {}
    saved = work / "results.json"
    if saved.exists() and not args.rebuild:
        results = json.loads(saved.read_text())

    def report(key: str, value: Any, label: str) -> None:
        results[key] = value
        print(f"{label}: {value}", flush=True)
        saved.write_text(json.dumps(results, indent=2) + "\n")

    work.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        BRIEFBOT_CORPUS_DIR=str(work / "corpus"),
        BRIEFBOT_INDEX_DIR=str(work / "index"),
        BRIEFBOT_ENCODER=args.encoder,
        PYTHONPATH=str(ROOT),
    )
    py = [sys.executable]
    report("load_average", os.getloadavg()[0], "load average at start (1 min; 2 cores)")
    report("briefings", write_corpus(work / "corpus", args.limit), "briefings")

    if args.rebuild or "build_seconds" not in results:
        # A first export of the model is not part of the build: make it now.
        timed([*py, "-c", "from bot.app import build_embedder; from bot.settings import Settings; "
               "build_embedder(Settings()).encode(['warm up'])"], env)  # fmt: skip
        seconds, peak, stdout = timed([*py, "-m", "bot", "index", "--full", "--json"], env)
        rep = json.loads(stdout)
        report("passages", rep["passages_total"], "passages")
        report("build_seconds", round(seconds, 1), "full build, seconds (process, incl. start)")
        report("build_report_seconds", round(rep["seconds"], 1), "  of which the reindex itself")
        report("build_passages_per_s", round(rep["passages_total"] / rep["seconds"], 1), "build, passages/s")
        report("build_peak_mb", peak, "peak memory of the build process, MB")
    report("index_mb", du_mb(work / "index" / "versions"), "index on disk (all kept versions), MB")
    status = json.loads(timed([*py, "-m", "bot", "status", "--json"], env)[2])
    report("model", status["model"], "model and encoder (manifest)")
    report("index_version_mb", du_mb(work / "index" / "versions" / status["version"]), "live version, MB")

    _, _, stdout = timed([*py, str(Path(__file__)), "--role", "raw", "--work", str(work),
                          "--encoder", args.encoder, "--raw-sample", str(args.raw_sample)], env)  # fmt: skip
    for k, v in json.loads(stdout).items():
        report(k, v, k)
    per_passage = results["raw_sample_sentences"] / max(1, results["raw_sample_passages"])
    raw_build_rate = 1 / (
        1 / results["raw_encoder_passages_per_s"] + per_passage / results["raw_encoder_sentences_per_s"]
    )
    report("build_vs_raw_torch", round(results["build_passages_per_s"] / results["raw_torch_passages_per_s"], 2),
           "build passages/s vs raw torch model.encode of the same passages (target >= 1.5)")  # fmt: skip
    report("build_vs_raw_encoder", round(results["build_passages_per_s"] / raw_build_rate, 3),
           "build vs raw encoding of passages + sentences with the same encoder (1.0 = no overhead)")  # fmt: skip

    _, peak, stdout = timed([*py, str(Path(__file__)), "--role", "serve", "--work", str(work),
                             "--queries", str(args.queries),
                             "--reindex-briefings", str(args.reindex_briefings)], env)  # fmt: skip
    serve = json.loads(stdout)
    for k, v in serve.items():
        report(k, v, k)
    report("serving_process_peak_mb", peak, "serving process peak (incl. a reindex in it), MB")

    seconds, peak, stdout = timed([*py, "-m", "bot", "ask", serve["question_sample"], "--json"], env)
    json.loads(stdout)
    report("cold_ask_seconds", round(seconds, 2), "cold one-shot briefbot ask, seconds")
    report("cold_ask_peak_mb", peak, "  its peak memory, MB")
    imports = subprocess.run(
        [*py, "-X", "importtime", "-m", "bot", "ask", serve["question_sample"], "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    report("cold_ask_imports_torch", "| torch\n" in imports.stderr or "| torch\r" in imports.stderr,
           "  did it import torch")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

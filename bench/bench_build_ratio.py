"""Build throughput against raw torch ``model.encode`` of the same passages, alternated in one
process so that both see the same machine load (a busy 2-core machine swings 2-5x in minutes).

    python bench/bench_build_ratio.py [--limit N] [--encoder auto] [--rounds 2] [--work DIR]

Each round: torch ``model.encode`` of every passage's embedded text (batch 32, normalised),
then a full build of the same briefings (passages and sentence vectors) with the chosen
encoder into a fresh index. Prints passages/s of both and their ratio per round (issue 11's
target: build >= 1.5x raw torch). Needs ../shared (never run by tests).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_scale import write_corpus  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=20, help="first N briefings of the archive")
    ap.add_argument("--encoder", default=os.environ.get("BRIEFBOT_ENCODER", "auto"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()

    from bot.app import build_embedder
    from bot.settings import Settings
    from index.build import embed_text
    from index.embedder import SentenceTransformerEmbedder
    from index.search import IndexVersion
    from index.service import BriefingService, ServiceConfig
    from index.versions import IndexLayout

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-ratio-"))
    corpus = work / "corpus"
    write_corpus(corpus, args.limit)
    encoders = work / "encoders-cache"
    embedder = build_embedder(Settings(index_dir=encoders, encoder=args.encoder))  # type: ignore[arg-type]
    model = SentenceTransformerEmbedder().model

    def build(tag: str) -> tuple[float, int, Path]:
        index_dir = work / f"index-{tag}"
        shutil.rmtree(index_dir, ignore_errors=True)
        svc = BriefingService(ServiceConfig(corpus, index_dir), embedder)
        t = time.perf_counter()
        report = svc.reindex(full=True)
        return time.perf_counter() - t, report.passages_total, index_dir

    # A warm-up build gives the embedded texts (and compiles the encoder's kernels).
    _, passages, first = build("warm")
    layout = IndexLayout(first)
    version = IndexVersion(layout.version_dir(layout.current_version() or ""), verify_checksums=False)
    stored = version.store.passages(
        [r[0] for r in version.store.connect().execute("SELECT vid FROM passages")]
    )
    texts = [embed_text(version.briefing(sp.passage.briefing_id), sp.passage) for sp in stored.values()]  # type: ignore[arg-type]
    sentences = sum(len(sp.passage.sentences) for sp in stored.values())
    version.close()
    model.encode(texts[:64], batch_size=32)

    rounds = []
    for r in range(args.rounds):
        t = time.perf_counter()
        model.encode(texts, batch_size=32, normalize_embeddings=True)
        raw = len(texts) / (time.perf_counter() - t)
        seconds, n, _ = build(str(r))
        rate = n / seconds
        rounds.append(
            {"raw_torch_passages_per_s": round(raw, 1), "build_passages_per_s": round(rate, 1),
             "ratio": round(rate / raw, 2), "build_seconds": round(seconds, 1)}
        )  # fmt: skip
        print(json.dumps(rounds[-1]), flush=True)
    load = os.getloadavg()[0]
    summary = {"briefings": args.limit, "passages": passages, "sentences": sentences,
               "encoder": embedder.name, "rounds": rounds, "load_average_end": round(load, 1)}  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

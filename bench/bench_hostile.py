"""The hostile trial's freezes, measured: how long the inputs that used to freeze take now.

    python bench/bench_hostile.py [--files 100000] [--out bench/hostile.json]

Generates its own inputs (no ../shared, no model: the deterministic fake embedder, since these
figures are about parsing, paging and index bookkeeping, not the encoder). Prints one line per
figure and writes them as JSON. Never run by tests.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import embeds
from index.build import BuildOptions
from index.confidence import Calibration
from index.parsing import BriefingError, parse_briefing
from index.service import BriefingService, ServiceConfig
from tests.fakes import FakeEmbedder

ALIAS_BOMB = (
    "---\na: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "date: ["
    + ", ".join(["*i"] * 9)
    + "]\n---\n\nThe harbour reopened.\n"
)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def long_paragraph(chars: int) -> str:
    sentences: list[str] = []
    n = 0
    while n < chars:
        s = f"Crane log {len(sentences)}: the harbour crane moved *{len(sentences)}* boxes on the pier."
        sentences.append(s)
        n += len(s) + 1
    return " ".join(sentences)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000, help="small briefings changed at once")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results: dict[str, Any] = {}

    def report(name: str, value: Any) -> None:
        results[name] = value
        print(f"{name}: {value}", flush=True)

    def refuse_bomb() -> str:
        try:
            parse_briefing("bomb.md", ALIAS_BOMB.encode())
        except BriefingError as exc:
            return exc.reason
        return "accepted"

    seconds, reason = timed(refuse_bomb)
    report("alias bomb (486-byte class, 9^9 expansion): seconds to refuse", round(seconds, 4))
    report("alias bomb reason", reason)

    text = long_paragraph(1_360_000)
    seconds, pages = timed(
        lambda: embeds.full_passage_pages(text, max_pages=embeds.FULL_PASSAGE_MAX_MESSAGES)
    )
    report("full passage, 1.36 MB: seconds to decide it goes as a file", round(seconds, 3))
    seconds, pages = timed(lambda: embeds.full_passage_pages(text))
    report(f"full passage, 1.36 MB: seconds to page it all ({len(pages)} pages)", round(seconds, 3))
    seconds, _ = timed(lambda: embeds.fit_text(text, 4000, (0, 80)))
    report("quote of 1.36 MB fitted into one embed: seconds", round(seconds, 3))

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i in range(args.files):
            (corpus / f"n{i:06d}.md").write_text(f"# Note {i}\n\nHarbour note number {i}.\n")
        config = ServiceConfig(corpus_dir=corpus, index_dir=Path(tmp) / "index", build=BuildOptions())
        service = BriefingService(config, FakeEmbedder(), Calibration(), today=lambda: date(2025, 3, 1))
        seconds, _ = timed(service.reindex)
        report(f"first build, {args.files} small briefings: seconds", round(seconds, 1))
        for i in range(args.files):
            (corpus / f"n{i:06d}.md").write_text(f"# Note {i}\n\nHarbour note number {i}, revised.\n")
        seconds, second = timed(service.reindex)
        report(f"incremental reindex after changing all {args.files}: seconds", round(seconds, 1))
        report(
            "briefings changed", len(second.briefings_changed) + second.omitted.get("briefings_changed", 0)
        )
        report("report size, bytes of JSON", len(json.dumps(second.to_json())))
    report("peak memory, MB", round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

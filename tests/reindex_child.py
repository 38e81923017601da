"""A reindex in a child process, for crash tests: ``python -m tests.reindex_child CORPUS INDEX_DIR``
(``--database-url URL``: into PostgreSQL, with INDEX_DIR as its local folder).

It prints ``ready`` once its imports are done and just before the reindex starts (the parent
times its kills from that line), ``stage NAME`` as the build enters each stage (scan, parse,
embed, write, published) and ``done <version>`` when the reindex has finished: after a kill,
the last line tells how far it got.

``--crash-at POINT`` makes it die with ``os._exit(CRASH_EXIT)`` (no cleanup, no ``finally``
blocks, like SIGKILL) at a named moment of the build:

- ``embed``: during embedding (the second call to the embedder);
- ``staged``: staging folder written (store, vectors, report), before it is sealed;
- ``sealed``: staging sealed with its manifest, before it is published;
- ``renamed``: version folder renamed into place, before ``CURRENT`` is switched;
- ``switched``: ``CURRENT`` switched, before old versions are cleaned up;
- ``cleanup``: in the middle of deleting an old version (one file of it gone).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

import index.build
import index.versions
from index.build import BuildOptions
from index.confidence import Calibration
from index.embedder import ProgressFn
from index.service import BriefingService, ServiceConfig
from index.versions import IndexLayout
from tests.fakes import FakeEmbedder

CRASH_EXIT = 86
CRASH_POINTS = ("embed", "staged", "sealed", "renamed", "switched", "cleanup")


class SlowFakeEmbedder(FakeEmbedder):
    """``FakeEmbedder`` that spends ``batch_delay`` seconds on every batch, as a model does, so
    that embedding is spread over time instead of one instant."""

    def __init__(self, batch_delay: float = 0.0) -> None:
        super().__init__()
        self.batch_delay = batch_delay

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: ProgressFn | None = None
    ) -> np.ndarray:
        parts = [np.zeros((0, self.dim), np.float32)]
        for i in range(0, len(texts), batch_size):
            if self.batch_delay:
                time.sleep(self.batch_delay)
            parts.append(super().encode(texts[i : i + batch_size], batch_size=batch_size, progress=progress))
        return np.vstack(parts)


def _die(*_: Any, **__: Any) -> None:
    sys.stdout.flush()
    os._exit(CRASH_EXIT)


def _crash_after(calls: int, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, except that call number ``calls`` (1-based) dies before doing anything."""
    count = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        if count >= calls:
            _die()
        return fn(*args, **kwargs)

    return wrapper


def _half_rmtree(path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
    """Delete one file of a folder, then die: an old version caught half-deleted."""
    target = Path(path)
    victim = target / "store.sqlite3"
    if victim.exists():
        victim.unlink()
    elif target.is_dir():
        for child in sorted(target.iterdir()):
            if child.is_file():
                child.unlink()
                break
    _die()


def install_crash(point: str, embedder: SlowFakeEmbedder) -> None:
    if point not in CRASH_POINTS:
        raise SystemExit(f"unknown crash point {point!r}; one of {', '.join(CRASH_POINTS)}")
    owner, name, replacement = {
        "embed": (embedder, "encode", _crash_after(2, embedder.encode)),
        "staged": (index.build, "seal", _die),
        "sealed": (IndexLayout, "publish", _die),
        "renamed": (IndexLayout, "switch", _die),
        "switched": (IndexLayout, "cleanup", _die),
        "cleanup": (index.versions.shutil, "rmtree", _half_rmtree),
    }[point]
    setattr(owner, name, replacement)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--batch-delay", type=float, default=0.0, help="seconds per embedded batch")
    parser.add_argument("--keep", type=int, default=3, help="index versions to keep")
    parser.add_argument("--crash-at", choices=CRASH_POINTS)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)

    embedder = SlowFakeEmbedder(args.batch_delay)
    if args.crash_at:
        install_crash(args.crash_at, embedder)
    config = ServiceConfig(
        corpus_dir=args.corpus,
        index_dir=args.index_dir,
        build=BuildOptions(keep_versions=args.keep),
        database_url=args.database_url,
    )
    service = BriefingService(config, embedder, Calibration(), today=lambda: date(2025, 3, 1))
    stages: list[str] = []

    def progress(stage: str, done: int, total: int) -> None:
        name = "published" if stage == "write" and total and done == total else stage
        if not stages or stages[-1] != name:
            stages.append(name)
            print(f"stage {name}", flush=True)

    print("ready", flush=True)
    report = service.reindex(who="reindex child", progress=progress)
    print(f"done {report.version}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

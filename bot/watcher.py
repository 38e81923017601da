"""Noticing changed briefing files without a moderator (``BRIEFBOT_WATCH``): poll a corpus
folder and say when a change has settled."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from index.corpus import iter_corpus


class CorpusWatcher:
    """Notices changed briefing files by polling, and says when a change has settled.

    Polling (size and mtime of each file, in a thread) needs no extra dependency and works
    on network drives, where file-system events often do not arrive.
    """

    def __init__(self, corpus_dir: Path, debounce: float) -> None:
        self.corpus_dir = corpus_dir
        self.debounce = debounce
        self._snapshot: dict[str, tuple[int, int]] | None = None
        self._changed_at: float | None = None

    async def settled_change(self) -> bool:
        """True when files changed and then stayed unchanged for ``debounce`` seconds."""
        now = await asyncio.to_thread(corpus_snapshot, self.corpus_dir)
        t = time.monotonic()
        if self._snapshot is None:
            self._snapshot = now
            return False
        if now != self._snapshot:
            self._snapshot, self._changed_at = now, t
            return False
        return self._changed_at is not None and t - self._changed_at >= self.debounce

    def handled(self) -> None:
        self._changed_at = None

    def retry_later(self) -> None:
        self._changed_at = time.monotonic()


def corpus_snapshot(corpus_dir: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every briefing file, to notice changes by polling."""
    out: dict[str, tuple[int, int]] = {}
    if not corpus_dir.is_dir():
        return out
    for path, rel in iter_corpus(corpus_dir):
        try:
            st = path.stat()
        except OSError:
            continue
        out[rel] = (st.st_size, st.st_mtime_ns)
    return out

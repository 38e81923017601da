"""Reindex progress in a terminal: one tqdm bar per stage, on stderr."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

STAGE_LABEL = {"scan": "Reading files", "parse": "Parsing", "embed": "Embedding", "write": "Writing index"}


class TerminalProgress:
    """A ``Progress`` callback drawing bars on stderr (quiet when stderr is not a terminal)."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = tqdm(
                total=total, desc=STAGE_LABEL.get(stage, stage), unit="", file=sys.stderr, leave=False
            )
        if self._bar is not None:
            if total != self._bar.total:
                self._bar.total = total
            self._bar.n = done
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

"""Remembers which PDF, Word, HTML and e-mail files could not be extracted, and why.

A file that timed out (or is scanned, or needs a password) is not extracted again while it
is unchanged: otherwise every reindex, also the scheduled and watched ones, would wait for it
again. A full reindex, a changed file or a new reader version tries again.
"""

from __future__ import annotations

import json
from pathlib import Path

from index.formats import READERS_VERSION
from index.manifest import write_json_atomic

MEMO_FILE = "unreadable.json"


class UnreadableMemo:
    """``{path: (sha256, reason)}`` of files the readers refused, kept in the index folder."""

    def __init__(self, index_dir: Path) -> None:
        self.path = index_dir / MEMO_FILE
        self._old = self._load()
        self._new: dict[str, tuple[str, str]] = {}

    def _load(self) -> dict[str, tuple[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("readers") != READERS_VERSION:
            return {}
        files = data.get("files")
        if not isinstance(files, dict):
            return {}
        return {
            str(k): (str(v[0]), str(v[1])) for k, v in files.items() if isinstance(v, list) and len(v) == 2
        }

    def known(self, rel_path: str, sha256: str) -> str | None:
        """The reason this unchanged file was refused last time, if it was."""
        entry = self._old.get(rel_path)
        if entry is not None and entry[0] == sha256:
            self._new[rel_path] = entry
            return entry[1]
        return None

    def refused(self, rel_path: str, sha256: str, reason: str) -> None:
        self._new[rel_path] = (sha256, reason)

    def save(self) -> None:
        """Keep this run's refusals only (files since fixed or removed are forgotten)."""
        if not self._new and not self._old:
            return
        write_json_atomic(
            self.path,
            {"readers": READERS_VERSION, "files": {k: list(v) for k, v in sorted(self._new.items())}},
        )

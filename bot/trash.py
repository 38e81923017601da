"""Removed briefing files, kept for a while so a removal can be undone (``/briefing restore``).

Each removal is a folder ``<trash>/<entry>/`` holding the file under its corpus-relative path
and ``entry.json`` (what it was, when it was removed). Entries older than ``keep_days`` are
deleted. The trash lives outside the corpus folder, so nothing in it is ever indexed.
Blocking: call from a worker thread.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from bot.errors import UserFacingError
from index.manifest import fsync_dir, write_json_atomic

ENTRY_FILE = "entry.json"


@dataclass(frozen=True)
class TrashEntry:
    entry_id: str
    path: str  # corpus-relative, POSIX
    briefing_id: str
    title: str
    removed_at: float

    @property
    def removed_label(self) -> str:
        return datetime.fromtimestamp(self.removed_at, UTC).strftime("%Y-%m-%d %H:%M UTC")


class Trash:
    """A folder of removed briefing files."""

    def __init__(self, folder: Path, keep_days: int = 30) -> None:
        self.folder = folder
        self.keep_days = keep_days

    def put(self, corpus_dir: Path, rel_path: str, briefing_id: str, title: str) -> TrashEntry:
        """Move ``corpus_dir/rel_path`` into the trash (one rename when on the same disk)."""
        _check_relative(rel_path)
        source = corpus_dir / rel_path
        now = time.time()
        entry_id = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        home = self.folder / entry_id
        (home / rel_path).parent.mkdir(parents=True, exist_ok=True)
        entry = TrashEntry(entry_id, rel_path, briefing_id, title, now)
        write_json_atomic(home / ENTRY_FILE, entry.__dict__)
        shutil.move(source, home / rel_path)
        fsync_dir(source.parent)
        return entry

    def entries(self) -> list[TrashEntry]:
        """What is in the trash, most recently removed first (past its time: deleted now)."""
        self.purge()
        out: list[TrashEntry] = []
        if not self.folder.is_dir():
            return out
        for home in self.folder.iterdir():
            entry = _read_entry(home)
            if entry is not None and (home / entry.path).is_file():
                out.append(entry)
        return sorted(out, key=lambda e: e.removed_at, reverse=True)

    def restore(self, entry_id: str, corpus_dir: Path) -> TrashEntry:
        """Put a removed file back where it was; refused when a file of that name is there now."""
        home = self.folder / entry_id
        entry = _read_entry(home) if "/" not in entry_id and entry_id not in ("", ".", "..") else None
        if entry is None or not (home / entry.path).is_file():
            raise UserFacingError("That removed briefing is not in the trash (kept for a limited time).")
        _check_relative(entry.path)
        target = corpus_dir / entry.path
        if target.exists():
            raise UserFacingError(
                f"{entry.path} exists in the corpus folder again; remove or rename it first."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(home / entry.path, target)
        fsync_dir(target.parent)
        shutil.rmtree(home, ignore_errors=True)
        return entry

    def purge(self) -> list[str]:
        """Delete entries removed more than ``keep_days`` ago; returns their paths."""
        gone: list[str] = []
        if not self.folder.is_dir():
            return gone
        cutoff = time.time() - self.keep_days * 86400
        for home in self.folder.iterdir():
            entry = _read_entry(home)
            if entry is not None and entry.removed_at < cutoff:
                shutil.rmtree(home, ignore_errors=True)
                gone.append(entry.path)
        return gone


def _read_entry(home: Path) -> TrashEntry | None:
    try:
        data = json.loads((home / ENTRY_FILE).read_text(encoding="utf-8"))
        return TrashEntry(**{k: data[k] for k in ("entry_id", "path", "briefing_id", "title", "removed_at")})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _check_relative(rel_path: str) -> None:
    parts = PurePosixPath(rel_path).parts
    if not parts or ".." in parts or rel_path.startswith("/") or os.path.isabs(rel_path):
        raise UserFacingError(f"{rel_path} is not inside the corpus folder.")

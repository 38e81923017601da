"""Sentence vectors in pack files that index versions share through hard links.

A reindex writes the sentence vectors of the passages it writes into one new pack
(``packs/<version>.f16``: float16 rows, ``dim`` wide, nothing else) and links the base version's
packs that its passages still refer to into the new version: their bytes are written, synced and
hashed once, however many versions use them. A pack is never modified once its version is sealed;
a passage names its rows as (pack, first row, row count). Packs are merged when there are many
small ones, and rewritten when most of their rows belong to deleted passages.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import numpy as np

PACKS_DIR = "packs"
PACK_SUFFIX = ".f16"
MAX_PACKS = 16  # beyond this many, the smaller packs are merged into one
MAX_GARBAGE = 0.5  # share of rows of deleted passages that makes a version rewrite all packs
_ROW_BYTES = 2  # float16


def pack_rows(path: Path, dim: int) -> int:
    """How many vectors a pack file holds."""
    return path.stat().st_size // (_ROW_BYTES * dim)


class PackReader:
    """Reads rows of the packs in one folder with positioned reads: only the rows asked for are
    read, and they stay out of the process's memory once used (the OS caches them)."""

    def __init__(self, directory: Path, dim: int) -> None:
        self.directory = directory
        self.dim = dim
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()

    def open_all(self) -> None:
        """Open every pack now: a version deleted while still in use (an old searcher finishing
        its questions) keeps its packs readable, as an open SQLite file stays readable."""
        if self.directory.is_dir():
            for path in sorted(self.directory.glob(f"*{PACK_SUFFIX}")):
                self._fd(path.name)

    def rows(self, name: str, first: int, count: int) -> np.ndarray:
        """``count`` vectors from row ``first`` of pack ``name``, as float32."""
        width = _ROW_BYTES * self.dim
        data = os.pread(self._fd(name), count * width, first * width) if first >= 0 else b""
        if first < 0 or len(data) != count * width:
            raise ValueError(f"rows {first}..{first + count} are not in pack {name}")
        return np.frombuffer(data, dtype=np.float16).astype(np.float32).reshape(count, self.dim)

    def close(self) -> None:
        with self._lock:
            fds, self._fds = list(self._fds.values()), {}
        for fd in fds:
            os.close(fd)

    def __del__(self) -> None:
        for fd in getattr(self, "_fds", {}).values():
            with contextlib.suppress(OSError):
                os.close(fd)

    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is not None:
            return fd
        with self._lock:
            fd = self._fds.get(name)
            if fd is None:
                path = self.directory / name
                if path.name != name or not name.endswith(PACK_SUFFIX):
                    raise ValueError(f"not a pack name: {name!r}")
                fd = os.open(path, os.O_RDONLY)
                self._fds[name] = fd
            return fd


class PackWriter:
    """Appends vectors to one new pack; ``close`` syncs it (or removes it when nothing was written)."""

    def __init__(self, directory: Path, name: str, dim: int) -> None:
        directory.mkdir(exist_ok=True)
        self.name = name
        self.path = directory / name
        self.dim = dim
        self.rows = 0
        self._fh = self.path.open("xb")

    def add(self, vectors: np.ndarray) -> tuple[str, int]:
        """Write ``vectors`` (n, dim); returns (pack name, first row)."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float16)
        if vecs.ndim != 2 or vecs.shape[1] != self.dim:
            raise ValueError(f"expected (n, {self.dim}) vectors, got {vecs.shape}")
        first = self.rows
        self._fh.write(vecs.tobytes())
        self.rows += len(vecs)
        return self.name, first

    def close(self) -> bool:
        """Flush and sync the pack; returns whether it holds anything (an empty one is removed)."""
        if self._fh.closed:
            return self.path.exists()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        if self.rows == 0:
            self.path.unlink()
            return False
        return True

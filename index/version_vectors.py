"""A version's passage vectors on disk: a base index that versions share through hard links
(written, synced and hashed once) and a small delta of the version's own (vectors added since
the base, ids removed from it). A reindex writes only the delta, until the delta grows past
``DELTA_SHARE`` of the base or the base must change kind (exact -> IVF): then a new base.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.manifest import link_or_copy
from index.vectors import EXACT_LIMIT, FaissVectorStore, FilterCache

BASE_FILE = "vectors.base.faiss"
DELTA_FILE = "vectors.delta.npz"
LEGACY_FILE = "vectors.faiss"  # index format 1: one file per version
DELTA_SHARE = 0.05
_ADD_BATCH = 16_384
DELTA_MIN = 2_000  # a delta this small is always kept (its cost at load is a few milliseconds)


def load_version_vectors(directory: Path) -> FaissVectorStore | MappedVersionVectors:
    """The passage vectors of a sealed version, for searching. An approximate (IVF) base stays
    memory-mapped under the version's delta: only the lists a question probes are read, and
    the pages are shared with every other process and version using the file. An exact base
    is small: it is read into memory with the delta applied."""
    if (directory / LEGACY_FILE).exists():
        return FaissVectorStore.load(directory / LEGACY_FILE)
    # The flag maps only an IVF index's lists: an exact index is read into memory as usual.
    index = faiss.read_index(str(directory / BASE_FILE), faiss.IO_FLAG_MMAP)
    store = FaissVectorStore(index.d, index)
    delta = _read_delta(directory / DELTA_FILE, store.dim)
    ivf = faiss.downcast_index(index)
    if isinstance(ivf, faiss.IndexIVF):
        lists: Any = faiss.downcast_InvertedLists(ivf.invlists) if ivf.invlists is not None else None
        if lists is not None:
            # FAISS would start 32 threads per search to touch the probed lists ahead of the
            # scan: on 2 cores that doubles a search's time (the lists are in the page cache).
            lists.prefetch_nthread = 0
        return MappedVersionVectors(store, delta, directory.name)
    store.remove(delta.removed.tolist())
    store.add(delta.ids.tolist(), delta.vectors)
    if len(store) != delta.base_count - len(delta.removed) + len(delta.ids):
        raise RuntimeError(f"{directory.name}: the vector delta does not match its base")
    return store


class _Delta:
    def __init__(self, base_count: int, ids: np.ndarray, vectors: np.ndarray, removed: np.ndarray) -> None:
        self.base_count, self.ids, self.vectors, self.removed = base_count, ids, vectors, removed


def _read_delta(path: Path, dim: int) -> _Delta:
    try:
        with np.load(path, allow_pickle=False) as data:
            vectors = np.asarray(data["vectors"], dtype=np.float32).reshape(-1, dim)
            ids, removed = data["ids"].astype(np.int64), data["removed"].astype(np.int64)
            return _Delta(int(data["base_count"]), ids, vectors, removed)
    except (ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise RuntimeError(f"{path.name} is unreadable ({exc})") from exc


def _layered_get(
    ids: Sequence[int],
    dim: int,
    added: dict[int, np.ndarray],
    removed: set[int],
    base: FaissVectorStore | None,
) -> np.ndarray:
    """Vectors for ``ids`` from a delta over a base: added ones first, removed ones unknown
    (KeyError), the rest read from the base in one call."""
    out = np.zeros((len(ids), dim), dtype=np.float32)
    from_base: list[int] = []
    for row, i in enumerate(map(int, ids)):
        if i in added:
            out[row] = added[i]
        elif i in removed or base is None:
            raise KeyError(i)
        else:
            from_base.append(row)
    if from_base and base is not None:
        out[from_base] = base.get([int(ids[r]) for r in from_base])
    return out


class MappedVersionVectors:
    """A sealed version's vectors for searching: its IVF base memory-mapped and read only
    (the file is shared with other versions: it is never changed in place) under its delta,
    which is small and held in memory. Searches merge the two."""

    def __init__(self, base: FaissVectorStore, delta: _Delta, name: str = "") -> None:
        if len(base) != delta.base_count:
            raise RuntimeError(f"{name}: the vector delta does not match its base")
        self._base = base
        self._removed = set(delta.removed.tolist())
        self._ids = delta.ids
        self._vectors = np.ascontiguousarray(delta.vectors, dtype=np.float32)
        self._added = dict(zip(self._ids.tolist(), self._vectors, strict=True))
        # An id both removed from the base and added again is served from the delta only.
        self._hidden = np.union1d(delta.removed, self._ids).astype(np.int64)
        self._split = FilterCache()

    @property
    def dim(self) -> int:
        return self._base.dim

    @property
    def approximate(self) -> bool:
        return True

    def __len__(self) -> int:
        return len(self._base) - len(self._removed) + len(self._ids)

    def search(
        self, query: np.ndarray, k: int, allowed: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top ``k`` (id, cosine), optionally only among ``allowed`` ids."""
        if k <= 0:
            return []
        if allowed is None:
            found = self._base.search(query, k, exclude=self._hidden)
            rows = np.arange(len(self._ids))
        else:
            in_base, rows = self._split.get(allowed, lambda: self._split_filter(allowed))
            found = self._base.search(query, k, in_base) if len(in_base) else []
        if len(rows):
            scores = self._vectors[rows] @ np.asarray(query, dtype=np.float32).reshape(-1)
            top = np.argsort(-scores)[:k]
            found = found + [(int(self._ids[rows[j]]), float(scores[j])) for j in top]
        return sorted(found, key=lambda hit: -hit[1])[:k]

    def _split_filter(self, allowed: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """A filter's ids searched in the base, and its rows of the delta (a filter can admit
        most of the index, ``since`` last year: no Python loops over it)."""
        wanted = np.asarray(allowed, dtype=np.int64)
        in_base = wanted[~np.isin(wanted, self._hidden)] if len(self._hidden) else wanted
        return in_base, np.flatnonzero(np.isin(self._ids, wanted))

    def get(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors for ``ids`` (in order); raises KeyError for an unknown id."""
        return _layered_get(ids, self.dim, self._added, self._removed, self._base)

    def all(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of everything stored."""
        ids, vecs = self._base.all()
        keep = ~np.isin(ids, self._hidden)
        return np.concatenate([ids[keep], self._ids]), np.concatenate([vecs[keep], self._vectors])

    def ivf(self) -> FaissVectorStore:
        """The memory-mapped base (for benchmarks that vary its probes)."""
        return self._base


class VersionVectors:
    """The passage vectors of a version being built: the base version's base index (opened
    memory-mapped, read only for vectors asked for), its delta, and this build's changes."""

    def __init__(self, dim: int, base_dir: Path | None = None) -> None:
        self._dim = dim
        self._base: FaissVectorStore | None = None
        self._base_path: Path | None = None
        self._base_count = 0
        self._added: dict[int, np.ndarray] = {}
        self._removed: set[int] = set()
        if base_dir is None:
            return
        if (base_dir / LEGACY_FILE).exists():  # format 1: the whole file is the base, no delta
            self._base_path, delta = base_dir / LEGACY_FILE, None
        else:
            self._base_path, delta = base_dir / BASE_FILE, _read_delta(base_dir / DELTA_FILE, dim)
        self._base = FaissVectorStore(dim, faiss.read_index(str(self._base_path), faiss.IO_FLAG_MMAP_IFC))
        self._base_count = len(self._base)
        if delta is not None:
            self._removed = set(delta.removed.tolist())
            self._added = dict(zip(delta.ids.tolist(), delta.vectors, strict=True))

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return self._base_count - len(self._removed) + len(self._added)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        vecs = np.asarray(vectors, dtype=np.float32)
        if vecs.shape != (len(ids), self._dim):
            raise ValueError(f"expected {(len(ids), self._dim)} vectors, got {vecs.shape}")
        for i, v in zip(ids, vecs, strict=True):
            if int(i) in self._added or (int(i) not in self._removed and self._in_base(int(i))):
                raise ValueError(f"vector id {i} is already stored")
            self._added[int(i)] = v

    def remove(self, ids: Sequence[int]) -> int:
        gone = 0
        for i in map(int, ids):
            if self._added.pop(i, None) is not None:
                gone += 1
            if i not in self._removed and self._in_base(i):
                self._removed.add(i)
                gone += 1
        return gone

    def get(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors for ``ids`` (in order); raises KeyError for an unknown id."""
        return _layered_get(ids, self._dim, self._added, self._removed, self._base)

    def _in_base(self, i: int) -> bool:
        if self._base is None:
            return False
        try:
            self._base.get([i])
        except KeyError:
            return False
        return True

    def save(self, directory: Path, exact_limit: int = EXACT_LIMIT) -> tuple[list[str], bool]:
        """Write this version's vector files into ``directory`` (a staging folder); returns
        (file names, whether the base file is new). The base is linked from the base version
        while the delta stays small; otherwise a new base is written and the delta is empty."""
        base = self._base
        share = max(DELTA_MIN, int(DELTA_SHARE * self._base_count))
        keep = (
            base is not None
            and self._base_path is not None
            and self._base_path.name == BASE_FILE
            and len(self._added) + len(self._removed) <= share
            and (base.approximate or len(self) <= exact_limit)
        )
        if keep and self._base_path is not None:
            link_or_copy(self._base_path, directory / BASE_FILE)
            self._write_delta(directory / DELTA_FILE, self._base_count)
            return [BASE_FILE, DELTA_FILE], False
        store = (
            FaissVectorStore.load(self._base_path)
            if self._base_path is not None
            else FaissVectorStore(self._dim)
        )
        store.remove(sorted(self._removed))
        ids = list(self._added)
        for start in range(0, len(ids), _ADD_BATCH):  # in batches: no second copy of every vector
            batch = ids[start : start + _ADD_BATCH]
            store.add(batch, np.vstack([self._added[i] for i in batch]))
        store = store.sized(exact_limit)
        store.save(directory / BASE_FILE)
        self._added, self._removed, self._base_count = {}, set(), len(store)
        self._write_delta(directory / DELTA_FILE, len(store))
        return [BASE_FILE, DELTA_FILE], True

    def _write_delta(self, path: Path, base_count: int) -> None:
        ids = np.fromiter(self._added, dtype=np.int64, count=len(self._added))
        vectors = (
            np.vstack([self._added[i] for i in ids.tolist()])
            if len(ids)
            else np.zeros((0, self._dim), np.float32)
        )
        removed = np.fromiter(sorted(self._removed), dtype=np.int64, count=len(self._removed))
        with path.open("wb") as fh:
            np.savez(
                fh,
                base_count=np.int64(base_count),
                ids=ids,
                vectors=vectors.astype(np.float32),
                removed=removed,
            )
            fh.flush()
            os.fsync(fh.fileno())

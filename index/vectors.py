"""Vector store: ids and normalised vectors only (text lives in the SQLite store).

``VectorStore`` is the small interface the rest of the index uses, so a server-backed engine
can stand in for FAISS later; ``FaissVectorStore`` is the embedded default: inner product over
normalised vectors (cosine similarity), exact while the index is small, an inverted-file (IVF)
index beyond ``EXACT_LIMIT`` passages, where an exact scan costs more than a question may.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

# Exact search scans every vector: about 4 ms per 10,000 on one busy core here. Beyond this
# many passages the index becomes an IVF index (bench/bench_scale.py measures recall).
EXACT_LIMIT = 50_000
# Filtered searches over at most this many passages stay exact on an IVF index too (a
# briefing, a recent week): the probed lists could hold none of them.
SUBSET_EXACT = 3_000
# Lists probed per question (at least 1/16 of them): on 12,907 archive passages (330 lists)
# 48 probes gave dense recall@60 0.85 against exact search and the same quotes for every
# question (the lexical candidates fill the gaps); README, "Speed and size".
NPROBE = 48


class FilterCache:
    """Values derived from a filter's list of allowed ids, kept for the last few lists. The
    index keeps each filter's list while it is in use, so the same list object comes back;
    holding it here keeps its ``id`` from being reused by another list."""

    SIZE = 4

    def __init__(self) -> None:
        self._items: dict[int, tuple[object, Any]] = {}
        self._lock = threading.Lock()

    def get(self, allowed: object, make: Callable[[], Any]) -> Any:
        with self._lock:
            hit = self._items.get(id(allowed))
        if hit is not None and hit[0] is allowed:
            return hit[1]
        value = make()
        with self._lock:
            while len(self._items) >= self.SIZE:
                self._items.pop(next(iter(self._items)))
            self._items[id(allowed)] = (allowed, value)
        return value


class VectorStore(Protocol):
    """Add, remove, search, save and load vectors keyed by 63-bit integer ids."""

    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...

    def remove(self, ids: Sequence[int]) -> int: ...

    def search(
        self, query: np.ndarray, k: int, allowed: Sequence[int] | None = None
    ) -> list[tuple[int, float]]: ...

    def get(self, ids: Sequence[int]) -> np.ndarray: ...

    def save(self, path: Path) -> None: ...


class FaissVectorStore:
    """Exact cosine search with FAISS ``IndexIDMap2(IndexFlatIP)``."""

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self._dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._selectors = FilterCache()

    @property
    def approximate(self) -> bool:
        """True for an IVF index (approximate search), False for exact search."""
        return isinstance(faiss.downcast_index(self._index), faiss.IndexIVF)

    def sized(self, exact_limit: int = EXACT_LIMIT) -> FaissVectorStore:
        """This store with the kind of index its size calls for: exact up to ``exact_limit``
        vectors, IVF beyond (trained on the vectors themselves). An IVF index stays IVF as
        it is updated; a full rebuild decides again."""
        n = len(self)
        if self.approximate or n <= exact_limit:
            return self
        ids, vecs = self.all()
        nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(self._dim), self._dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        ivf.train(vecs[rng.choice(n, size=min(n, 64 * nlist), replace=False)])
        # A hash table from id to list position: reconstruct (reranking, subsets) and remove.
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        ivf.add_with_ids(vecs, ids)
        ivf.nprobe = min(nlist, max(NPROBE, nlist // 16))
        return FaissVectorStore(self._dim, ivf)

    def all(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of everything stored."""
        index: Any = faiss.downcast_index(self._index)
        if isinstance(index, faiss.IndexIDMap2):
            ids = faiss.vector_to_array(index.id_map).astype(np.int64)
            return ids, index.index.reconstruct_n(0, index.ntotal)
        lists = [
            faiss.rev_swig_ptr(index.invlists.get_ids(i), index.invlists.list_size(i)).copy()
            for i in range(index.nlist)
        ]
        ids = np.concatenate([*lists, np.zeros(0, np.int64)]).astype(np.int64)
        return ids, self.get(ids.tolist())

    @classmethod
    def load(cls, path: Path) -> FaissVectorStore:
        index = faiss.read_index(str(path))
        return cls(index.d, index)

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.shape != (len(ids), self._dim):
            raise ValueError(f"expected {(len(ids), self._dim)} vectors, got {vecs.shape}")
        self._index.add_with_ids(vecs, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> int:
        if len(ids) == 0:
            return 0
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))  # type: ignore[arg-type]

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: Sequence[int] | np.ndarray | None = None,
        exclude: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Top ``k`` (id, cosine) for one query vector, optionally only among ``allowed`` ids
        (or, without ``allowed``, among all but the ``exclude`` ids)."""
        if len(self) == 0 or k <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params: faiss.SearchParameters | None = None
        approximate = self.approximate
        keep: list[Any] = []  # selectors FAISS only points to, alive until the search ends
        if allowed is None and exclude is not None and len(exclude):
            keep.append(faiss.IDSelectorBatch(np.ascontiguousarray(exclude, dtype=np.int64)))
            keep.append(faiss.IDSelectorNot(keep[0]))
            if approximate:
                nprobe = int(faiss.downcast_index(self._index).nprobe)  # type: ignore[attr-defined]
                params = faiss.SearchParametersIVF(sel=keep[1], nprobe=nprobe)  # type: ignore[call-arg]
            else:
                params = faiss.SearchParameters(sel=keep[1])  # type: ignore[call-arg]
        if allowed is not None:
            if len(allowed) == 0:
                return []
            if approximate and len(allowed) <= SUBSET_EXACT:
                return self._search_subset(q[0], k, allowed)
            # A wide filter's id set costs milliseconds to build: it is kept for the filter's list.
            sel = self._selectors.get(
                allowed, lambda: faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            )
            if approximate:
                # Fewer allowed vectors per list: probe more lists to keep recall.
                nprobe = int(faiss.downcast_index(self._index).nprobe)  # type: ignore[attr-defined]
                share = len(allowed) / max(1, len(self))
                params = faiss.SearchParametersIVF(sel=sel, nprobe=min(4096, math.ceil(nprobe / share)))  # type: ignore[call-arg]
            else:
                params = faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]
            k = min(k, len(allowed))
        k = min(k, len(self))
        # One question is one scan: an OpenMP team for it only waits on the other core when the
        # machine is busy (p50 18-100 ms instead of 0.1-20 ms here). The setting is per thread.
        faiss.omp_set_num_threads(1)
        scores, ids = self._index.search(q, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def _search_subset(
        self, q: np.ndarray, k: int, allowed: Sequence[int] | np.ndarray
    ) -> list[tuple[int, float]]:
        """Exact search over a few allowed ids (ids not stored are skipped)."""
        ids = [int(i) for i in allowed]
        try:
            vecs = self.get(ids)
        except KeyError:
            known = set(self.all()[0].tolist())
            ids = [i for i in ids if i in known]
            vecs = self.get(ids)
        scores = vecs @ q
        top = np.argsort(-scores)[:k]
        return [(ids[i], float(scores[i])) for i in top]

    def get(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors for ``ids`` (in order); raises KeyError for an unknown id."""
        if len(ids) == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        try:
            found = self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        except RuntimeError:
            for i in ids:  # name the unknown id
                try:
                    self._index.reconstruct(int(i))
                except RuntimeError as exc:
                    raise KeyError(i) from exc
            raise
        return np.asarray(found, dtype=np.float32)

    def save(self, path: Path) -> None:
        """Write to ``path`` and fsync it (the caller renames it into place)."""
        faiss.write_index(self._index, str(path))
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def copy(self) -> FaissVectorStore:
        return FaissVectorStore(self._dim, faiss.clone_index(self._index))

"""Vector store: ids and normalised vectors only (text lives in the SQLite store).

``VectorStore`` is the small interface the rest of the index uses, so a server-backed engine
can stand in for FAISS later; ``FaissVectorStore`` is the embedded default (exact inner
product over normalised vectors, i.e. cosine similarity).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np


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
        self, query: np.ndarray, k: int, allowed: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top ``k`` (id, cosine) for one query vector, optionally only among ``allowed`` ids."""
        if len(self) == 0 or k <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return []
            sel = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            params = faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]
            k = min(k, len(allowed))
        k = min(k, len(self))
        scores, ids = self._index.search(q, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def get(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors for ``ids`` (in order); raises KeyError for an unknown id."""
        out = np.zeros((len(ids), self._dim), dtype=np.float32)
        for row, i in enumerate(ids):
            try:
                out[row] = self._index.reconstruct(int(i))
            except RuntimeError as exc:
                raise KeyError(i) from exc
        return out

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

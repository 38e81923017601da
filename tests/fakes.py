"""Test doubles: a deterministic embedder that needs no model (hashed bag of words)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence

import numpy as np

from index.embedder import ProgressFn

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class FakeEmbedder:
    """Hashed bag-of-words vectors: texts sharing words are similar; same text, same vector.

    ``delay`` makes every call slow, to prove slow work never blocks the event loop.
    """

    def __init__(
        self, dim: int = 64, max_tokens: int = 256, delay: float = 0.0, name: str = "fake-hash-64"
    ) -> None:
        self._dim = dim
        self._max_tokens = max_tokens
        self.delay = delay
        self._name = name
        self.encoded = 0  # texts encoded in bulk, for tests of incremental indexing

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self._dim, dtype=np.float32)
        for w in _WORD.findall(text.lower()):
            h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
            v[h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
        n = float(np.linalg.norm(v))
        if n == 0:
            v[0] = 1.0
            return v
        return v / n

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: ProgressFn | None = None
    ) -> np.ndarray:
        if self.delay:
            time.sleep(self.delay)
        self.encoded += len(texts)
        out = np.vstack([self._vec(t) for t in texts]) if texts else np.zeros((0, self._dim), np.float32)
        if progress:
            progress(len(texts))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        if self.delay:
            time.sleep(self.delay)
        return self._vec(text)

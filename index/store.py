"""SQLite store for one index version: briefings, passages and their BM25 (FTS5) index.

The full-text table lives in the same database file as the passages, written in the same
transactions, so lexical and stored text can never drift apart. Row ids are the passages'
63-bit ``vid``s, shared with the vector store.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from index.models import BriefingMeta, Passage
from index.packs import PACKS_DIR, PackReader, PackWriter

SCHEMA_VERSION = 1
FTS_TITLE_CHARS = 300
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"  # the lexical index's tokenizer (index.terms reads it)
ADDED_KEY = "added"  # info key: JSON {briefing_id: "YYYY-MM-DD"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS briefings (
    briefing_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    date TEXT,
    source TEXT,
    url TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    audience TEXT NOT NULL DEFAULT '["all"]',
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    warnings TEXT NOT NULL DEFAULT '[]',
    indexed_at TEXT NOT NULL,
    passage_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS passages (
    vid INTEGER PRIMARY KEY,
    passage_id TEXT NOT NULL UNIQUE,
    briefing_id TEXT NOT NULL REFERENCES briefings(briefing_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    paragraph INTEGER NOT NULL,
    paragraph_end INTEGER NOT NULL,
    part TEXT NOT NULL DEFAULT '',
    section TEXT NOT NULL DEFAULT '[]',
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    embed_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    sentences TEXT NOT NULL DEFAULT '[]',
    sent_vecs BLOB,  -- float16 sentence vectors (index format 1; now in packs, see packs.py)
    page INTEGER,  -- the PDF page the passage starts on
    sent_pack TEXT,  -- the pack holding the sentence vectors, their first row and row count
    sent_row INTEGER,
    sent_rows INTEGER
);
CREATE INDEX IF NOT EXISTS passages_by_briefing ON passages(briefing_id, ordinal);
CREATE INDEX IF NOT EXISTS passages_by_embed ON passages(embed_hash);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    title, section, body, tokenize = '{FTS_TOKENIZE}'
);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- The text passages are spans of: the file's text, or the text extracted from a PDF, Word,
-- HTML or e-mail file, so every view of a briefing shows the same words.
CREATE TABLE IF NOT EXISTS briefing_texts (
    briefing_id TEXT PRIMARY KEY REFERENCES briefings(briefing_id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    pages TEXT NOT NULL DEFAULT '[]'
);
""".replace("{FTS_TOKENIZE}", FTS_TOKENIZE)

# Function words carry no evidence and make OR queries slow on big corpora.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "don",
        "did",
        "does",
        "doesn",
        "isn",
        "wasn",
        "weren",
        "aren",
        "hasn",
        "haven",
        "hadn",
        "shouldn",
        "wouldn",
        "couldn",
        "won",
        "also",
        "many",
        "much",
        "ever",
    ]
)

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def query_terms(text: str) -> list[str]:
    """Lower-cased content words of a question, in order, without duplicates."""
    seen: dict[str, None] = {}
    for tok in _TOKEN.findall(text.lower()):
        if tok not in STOPWORDS and (len(tok) > 1 or tok.isdigit()):
            seen.setdefault(tok, None)
    return list(seen)


@dataclass(frozen=True)
class StoredPassage:
    passage: Passage
    embed_hash: str
    sentence_vectors: np.ndarray | None = None  # (n_sentences, dim) float32


def pack_vectors(vecs: np.ndarray | None) -> bytes | None:
    return None if vecs is None else np.asarray(vecs, dtype=np.float16).tobytes()


def unpack_vectors(blob: bytes | None, dim: int) -> np.ndarray | None:
    if blob is None or dim <= 0:
        return None
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(-1, dim)


class Store:
    """One SQLite database file; safe to share across threads (one connection per thread).

    Sentence vectors are in the packs of the folder beside it (``packs/``), or, in a version
    written by index format 1, in the passages table itself."""

    def __init__(self, path: Path, *, readonly: bool = False, dim: int = 0) -> None:
        self.path = path
        self.readonly = readonly
        self.dim = dim  # for decoding sentence vectors
        self.packs = PackReader(path.parent / PACKS_DIR, dim)
        self._writer: PackWriter | None = None
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._cols = _PASSAGE_COLS
        if readonly and dim > 0:
            self.packs.open_all()
        if not readonly:
            with self.connect() as con:
                con.executescript(_SCHEMA)
                _add_columns(con)
                # Which packs are in use, and whether any vectors are still in rows (format 1),
                # without reading every passage.
                con.execute("CREATE INDEX IF NOT EXISTS passages_by_pack ON passages(sent_pack, sent_rows)")
                con.execute(
                    "CREATE INDEX IF NOT EXISTS passages_with_row_vectors ON passages(vid) WHERE sent_vecs IS NOT NULL"
                )
                con.execute(
                    "INSERT OR IGNORE INTO info(key, value) VALUES('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            self._cols = _PASSAGE_COLS

    def connect(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            if self.readonly:
                con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            else:
                con = sqlite3.connect(self.path, check_same_thread=False)
                con.execute("PRAGMA journal_mode=DELETE")
                con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA foreign_keys=ON")
            # A version written before passages had pages (or packs) reads them as NULL.
            self._cols = _passage_cols(con)
            self._local.con = con
            with self._all_lock:
                self._all.append(con)
        return con

    def _columns(self) -> str:
        self.connect()
        return self._cols

    def close(self) -> None:
        self.close_pack()
        self.packs.close()
        with self._all_lock:
            for con in self._all:
                con.close()
            self._all.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ writing

    def put_briefing(self, meta: BriefingMeta, indexed_at: str, passage_count: int) -> None:
        con = self.connect()
        con.execute(
            """INSERT OR REPLACE INTO briefings
            (briefing_id, path, title, date, source, url, tags, audience, sha256, size, warnings,
             indexed_at, passage_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (
                meta.briefing_id,
                meta.path,
                meta.title,
                meta.date.isoformat() if meta.date else None,
                meta.source,
                meta.url,
                json.dumps(list(meta.tags)),
                json.dumps(list(meta.audience)),
                meta.sha256,
                meta.size,
                json.dumps(list(meta.warnings)),
                indexed_at,
                passage_count,
            ),
        )

    def put_passages(
        self,
        meta: BriefingMeta,
        passages: Sequence[Passage],
        embed_hashes: Sequence[str],
        sentence_vectors: Sequence[np.ndarray | None] | None = None,
    ) -> None:
        con = self.connect()
        sents = sentence_vectors if sentence_vectors is not None else [None] * len(passages)
        if len(sents) != len(passages):
            raise ValueError("one entry of sentence vectors per passage")
        refs = [self._pack_ref(sv) for sv in sents]
        con.executemany(
            """INSERT INTO passages (vid, passage_id, briefing_id, ordinal, paragraph, paragraph_end, part,
            section, start, "end", text, content_hash, embed_hash, kind, sentences, sent_vecs, page,
            sent_pack, sent_row, sent_rows)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            [
                (
                    p.vid,
                    p.passage_id,
                    p.briefing_id,
                    p.ordinal,
                    p.paragraph,
                    p.paragraph_end,
                    p.part,
                    json.dumps(list(p.section)),
                    p.start,
                    p.end,
                    p.text,
                    p.content_hash,
                    h,
                    p.kind,
                    json.dumps([list(x) for x in p.sentences]),
                    None if self._writer is not None else pack_vectors(sv),
                    p.page,
                    *ref,
                )
                for p, h, sv, ref in zip(passages, embed_hashes, sents, refs, strict=True)
            ],
        )
        # The title is indexed with every passage (a title word is evidence), so only its start:
        # a huge title must not be copied into every row.
        title = meta.title[:FTS_TITLE_CHARS]
        con.executemany(
            "INSERT INTO passages_fts(rowid, title, section, body) VALUES (?,?,?,?)",
            [(p.vid, title, " ".join(p.section), p.text) for p in passages],
        )

    def write_packs(self, name: str) -> None:
        """Write sentence vectors from now on into the new pack ``packs/<name>`` (not into rows)."""
        self.close_pack()
        self._writer = PackWriter(self.path.parent / PACKS_DIR, name, self.dim)

    def close_pack(self) -> bool:
        """Finish the pack being written; returns whether it holds anything."""
        writer, self._writer = self._writer, None
        return writer.close() if writer is not None else False

    def _pack_ref(self, vectors: np.ndarray | None) -> tuple[str | None, int | None, int | None]:
        if self._writer is None or vectors is None or len(vectors) == 0:
            return None, None, None
        name, first = self._writer.add(vectors)
        return name, first, len(vectors)

    def pack_rows(self) -> dict[str, int]:
        """Pack name -> rows of it that passages of this store refer to."""
        rows = self.connect().execute(
            "SELECT sent_pack, SUM(sent_rows) FROM passages WHERE sent_pack IS NOT NULL GROUP BY sent_pack"
        )
        return {str(name): int(n) for name, n in rows}

    def repack(self, packs: Collection[str]) -> int:
        """Move the sentence vectors in ``packs`` (and any still in rows, index format 1) into the
        pack being written, pointing their passages at it; returns the passages moved."""
        if self._writer is None:
            raise RuntimeError("no pack is being written")
        con = self.connect()
        chosen = json.dumps(sorted(packs))
        rows = con.execute(
            "SELECT vid, sent_pack, sent_row, sent_rows, sent_vecs FROM passages "
            "WHERE sent_pack IN (SELECT value FROM json_each(?)) OR sent_vecs IS NOT NULL ORDER BY vid",
            (chosen,),
        ).fetchall()
        moved = []
        for vid, pack, first, count, blob in rows:
            vecs = self.packs.rows(pack, first, count) if pack is not None else unpack_vectors(blob, self.dim)
            moved.append((*self._pack_ref(vecs), vid))
        con.executemany(
            "UPDATE passages SET sent_pack=?, sent_row=?, sent_rows=?, sent_vecs=NULL WHERE vid=?", moved
        )
        return len(moved)

    def has_row_vectors(self) -> bool:
        """Whether sentence vectors are still kept in rows (a store of index format 1)."""
        return (
            self.connect().execute("SELECT 1 FROM passages WHERE sent_vecs IS NOT NULL LIMIT 1").fetchone()
            is not None
        )

    def put_text(self, briefing_id: str, text: str, pages: Sequence[int] = ()) -> None:
        """The briefing's whole text (passages are spans of it) and where its pages start."""
        self.connect().execute(
            "INSERT OR REPLACE INTO briefing_texts(briefing_id, text, pages) VALUES (?,?,?)",
            (briefing_id, text, json.dumps(list(pages))),
        )

    def briefing_text(self, briefing_id: str) -> tuple[str, list[int]] | None:
        """The text a briefing's passages are spans of, and its page starts; None if not kept."""
        try:
            row = (
                self.connect()
                .execute("SELECT text, pages FROM briefing_texts WHERE briefing_id=?", (briefing_id,))
                .fetchone()
            )
        except sqlite3.OperationalError:  # a version written before texts were kept
            return None
        return (str(row[0]), [int(x) for x in json.loads(str(row[1]))]) if row else None

    def delete_briefing(self, briefing_id: str) -> list[int]:
        """Remove a briefing with its passages; returns the removed vids."""
        return self.delete_briefings([briefing_id])

    def delete_briefings(self, briefing_ids: Sequence[str]) -> list[int]:
        """Remove briefings with their passages in a few statements; returns the removed vids."""
        if not briefing_ids:
            return []
        con = self.connect()
        ids = json.dumps(list(briefing_ids))
        chosen = "SELECT value FROM json_each(?)"
        vids = [
            r[0] for r in con.execute(f"SELECT vid FROM passages WHERE briefing_id IN ({chosen})", (ids,))
        ]
        con.execute(
            f"DELETE FROM passages_fts WHERE rowid IN (SELECT vid FROM passages WHERE briefing_id IN ({chosen}))",
            (ids,),
        )
        con.execute(f"DELETE FROM passages WHERE briefing_id IN ({chosen})", (ids,))
        con.execute(f"DELETE FROM briefing_texts WHERE briefing_id IN ({chosen})", (ids,))
        con.execute(f"DELETE FROM briefings WHERE briefing_id IN ({chosen})", (ids,))
        return vids

    def copy_briefings(self, source: Path, briefing_ids: Sequence[str]) -> list[int]:
        """Copy briefings with their passages (and full-text rows) from another version's store;
        returns the copied vids."""
        if not briefing_ids:
            return []
        con = self.connect()
        con.commit()  # ATTACH cannot run inside a transaction
        con.execute("ATTACH DATABASE ? AS src", (str(source),))  # only read from
        try:
            ids = json.dumps(list(briefing_ids))
            chosen = "SELECT value FROM json_each(?)"
            con.execute(
                f"INSERT INTO briefings SELECT * FROM src.briefings WHERE briefing_id IN ({chosen})", (ids,)
            )
            have = {row[1] for row in con.execute("PRAGMA src.table_info(passages)")}
            cols = _PASSAGE_BASE_COLS + "".join(f", {n if n in have else 'NULL'}" for n, _ in _LATER_COLS)
            con.execute(
                f"INSERT INTO passages ({_PASSAGE_COLS}) SELECT {cols} FROM src.passages "
                f"WHERE briefing_id IN ({chosen})",
                (ids,),
            )
            con.execute(
                "INSERT INTO passages_fts(rowid, title, section, body) SELECT rowid, title, section, body "
                f"FROM src.passages_fts WHERE rowid IN (SELECT vid FROM src.passages WHERE briefing_id IN ({chosen}))",
                (ids,),
            )
            with contextlib.suppress(sqlite3.OperationalError):  # a version written before texts were kept
                con.execute(
                    f"INSERT INTO briefing_texts SELECT * FROM src.briefing_texts WHERE briefing_id IN ({chosen})",
                    (ids,),
                )
            vids = [
                r[0] for r in con.execute(f"SELECT vid FROM passages WHERE briefing_id IN ({chosen})", (ids,))
            ]
            con.commit()
        finally:
            con.execute("DETACH DATABASE src")
        return vids

    def set_info(self, key: str, value: str) -> None:
        self.connect().execute("INSERT OR REPLACE INTO info(key, value) VALUES (?, ?)", (key, value))

    def commit(self) -> None:
        self.connect().commit()

    # ------------------------------------------------------------------ reading

    def info(self, key: str) -> str | None:
        row = self.connect().execute("SELECT value FROM info WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def counts(self) -> tuple[int, int]:
        con = self.connect()
        b = con.execute("SELECT COUNT(*) FROM briefings").fetchone()[0]
        p = con.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        return int(b), int(p)

    def briefing_hashes(self) -> dict[str, tuple[str, str]]:
        """briefing_id -> (path, sha256) of everything indexed."""
        rows = self.connect().execute("SELECT briefing_id, path, sha256 FROM briefings")
        return {r[0]: (r[1], r[2]) for r in rows}

    def briefings(self) -> list[BriefingMeta]:
        added = self.added_dates()
        rows = self.connect().execute(f"SELECT {_BRIEFING_COLS} FROM briefings ORDER BY date DESC, title")
        return [_meta(r, added) for r in rows]

    def briefing(self, briefing_id: str) -> BriefingMeta | None:
        row = (
            self.connect()
            .execute(f"SELECT {_BRIEFING_COLS} FROM briefings WHERE briefing_id=?", (briefing_id,))
            .fetchone()
        )
        return _meta(row, self.added_dates()) if row else None

    def added_dates(self) -> dict[str, str]:
        """briefing_id -> the day (YYYY-MM-DD) an index first held it.

        Kept in ``info`` and carried from version to version; a briefing an older index lacks
        a record for counts from when it was last indexed.
        """
        con = self.connect()
        out = {
            str(bid): str(at)[:10] for bid, at in con.execute("SELECT briefing_id, indexed_at FROM briefings")
        }
        try:
            recorded = json.loads(self.info(ADDED_KEY) or "{}")
        except ValueError:
            recorded = {}
        if isinstance(recorded, dict):
            out.update({str(k): str(v)[:10] for k, v in recorded.items() if str(k) in out})
        return out

    def passages(self, vids: Iterable[int]) -> dict[int, StoredPassage]:
        ids = list(vids)
        out: dict[int, StoredPassage] = {}
        con = self.connect()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for row in con.execute(f"SELECT {self._columns()} FROM passages WHERE vid IN ({marks})", chunk):
                sp = self._stored(row)
                out[sp.passage.vid] = sp
        return out

    def passage_by_id(self, passage_id: str) -> StoredPassage | None:
        row = (
            self.connect()
            .execute(f"SELECT {self._columns()} FROM passages WHERE passage_id=?", (passage_id,))
            .fetchone()
        )
        return self._stored(row) if row else None

    def briefing_passages(self, briefing_id: str) -> list[Passage]:
        rows = self.connect().execute(
            f"SELECT {self._columns()} FROM passages WHERE briefing_id=? ORDER BY ordinal", (briefing_id,)
        )
        return [_passage(r) for r in rows]

    def neighbours(self, briefing_id: str, ordinal: int, before: int = 1, after: int = 1) -> list[Passage]:
        rows = self.connect().execute(
            f"SELECT {self._columns()} FROM passages WHERE briefing_id=? AND ordinal BETWEEN ? AND ? "
            "ORDER BY ordinal",
            (briefing_id, ordinal - before, ordinal + after),
        )
        return [_passage(r) for r in rows]

    def iter_passages(self) -> Iterator[StoredPassage]:
        for row in self.connect().execute(f"SELECT {self._columns()} FROM passages ORDER BY vid"):
            yield self._stored(row)

    def _stored(self, row: Sequence[Any]) -> StoredPassage:
        if row[17] is not None:
            vectors = self.packs.rows(str(row[17]), int(row[18]), int(row[19])) if self.dim > 0 else None
        else:
            vectors = unpack_vectors(row[15], self.dim)
        return StoredPassage(passage=_passage(row), embed_hash=str(row[12]), sentence_vectors=vectors)

    def vids_by_embed_hash(self, hashes: Iterable[str]) -> dict[str, int]:
        wanted = list(set(hashes))
        out: dict[str, int] = {}
        con = self.connect()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for h, vid in con.execute(
                f"SELECT embed_hash, vid FROM passages WHERE embed_hash IN ({marks})", chunk
            ):
                out.setdefault(h, vid)
        return out

    def vids_where(
        self,
        *,
        date_from: date | None = None,
        date_to: date | None = None,
        briefing_ids: Sequence[str] | None = None,
        exclude_briefings: Sequence[str] | None = None,
    ) -> list[int]:
        """Passage vids of briefings matching a date range and id filters."""
        sql = "SELECT p.vid FROM passages p JOIN briefings b ON b.briefing_id = p.briefing_id WHERE 1=1"
        args: list[object] = []
        if date_from is not None:
            sql += " AND b.date >= ?"
            args.append(date_from.isoformat())
        if date_to is not None:
            sql += " AND b.date <= ?"
            args.append(date_to.isoformat())
        # One JSON parameter, however many briefings: SQLite limits the number of parameters.
        if briefing_ids is not None:
            sql += " AND b.briefing_id IN (SELECT value FROM json_each(?))"
            args.append(json.dumps(list(briefing_ids)))
        if exclude_briefings:
            sql += " AND b.briefing_id NOT IN (SELECT value FROM json_each(?))"
            args.append(json.dumps(list(exclude_briefings)))
        return [r[0] for r in self.connect().execute(sql, args)]

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many passages contain each term (as FTS5 stems it); cached per store."""
        cache: dict[str, int] = self.__dict__.setdefault("_df_cache", {})
        out: dict[str, int] = {}
        con = self.connect()
        for t in terms:
            if t not in cache:
                try:
                    row = con.execute(
                        "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?",
                        ('"' + t.replace('"', '""') + '"',),
                    ).fetchone()
                    cache[t] = int(row[0])
                except sqlite3.OperationalError:
                    cache[t] = 0
            out[t] = cache[t]
        return out

    def lexical_search(
        self,
        terms: Sequence[str],
        limit: int,
        weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        only_vids: Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        """BM25 (FTS5, Porter stemming) over title, section and body; higher is better."""
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        sql = (
            "SELECT rowid, -bm25(passages_fts, ?, ?, ?) AS score FROM passages_fts WHERE passages_fts MATCH ?"
        )
        args: list[object] = [*weights, match]
        if only_vids is not None:
            sql += f" AND rowid IN ({','.join('?' * len(only_vids))})"
            args.extend(only_vids)
        sql += " ORDER BY score DESC LIMIT ?"
        args.append(limit)
        try:
            return [(int(r[0]), float(r[1])) for r in self.connect().execute(sql, args)]
        except sqlite3.OperationalError:
            return []


_BRIEFING_COLS = "briefing_id, path, title, date, source, url, tags, audience, sha256, size, warnings"
_PASSAGE_BASE_COLS = (
    'vid, passage_id, briefing_id, ordinal, paragraph, paragraph_end, part, section, start, "end", '
    "text, content_hash, embed_hash, kind, sentences, sent_vecs"
)
# Columns added after the first release, in order, with their types: an older store reads NULL.
_LATER_COLS = (("page", "INTEGER"), ("sent_pack", "TEXT"), ("sent_row", "INTEGER"), ("sent_rows", "INTEGER"))
_PASSAGE_COLS = _PASSAGE_BASE_COLS + "".join(f", {name}" for name, _ in _LATER_COLS)


def _passage_cols(con: sqlite3.Connection) -> str:
    have = {row[1] for row in con.execute("PRAGMA table_info(passages)")}
    return _PASSAGE_BASE_COLS + "".join(f", {n if n in have else 'NULL'}" for n, _ in _LATER_COLS)


def _add_columns(con: sqlite3.Connection) -> None:
    """Bring a store copied from an older version up to date (the new columns are then NULL)."""
    have = {row[1] for row in con.execute("PRAGMA table_info(passages)")}
    for name, kind in _LATER_COLS:
        if name not in have:
            con.execute(f"ALTER TABLE passages ADD COLUMN {name} {kind}")


def _meta(row: Sequence[object], added: dict[str, str] | None = None) -> BriefingMeta:
    first = (added or {}).get(str(row[0]))
    return BriefingMeta(
        briefing_id=str(row[0]),
        path=str(row[1]),
        title=str(row[2]),
        date=date.fromisoformat(str(row[3])) if row[3] else None,
        source=str(row[4]) if row[4] is not None else None,
        url=str(row[5]) if row[5] is not None else None,
        tags=tuple(json.loads(str(row[6]))),
        audience=tuple(json.loads(str(row[7]))),
        sha256=str(row[8]),
        size=int(str(row[9])),
        warnings=tuple(json.loads(str(row[10]))),
        added=_day(first),
    )


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _passage(row: Sequence[Any]) -> Passage:
    return Passage(
        vid=int(str(row[0])),
        passage_id=str(row[1]),
        briefing_id=str(row[2]),
        ordinal=int(str(row[3])),
        paragraph=int(str(row[4])),
        paragraph_end=int(str(row[5])),
        part=str(row[6]),
        section=tuple(json.loads(str(row[7]))),
        start=int(str(row[8])),
        end=int(str(row[9])),
        text=str(row[10]),
        content_hash=str(row[11]),
        kind=str(row[13]),
        sentences=tuple((int(a), int(b)) for a, b in json.loads(str(row[14]))),
        page=int(str(row[16])) if row[16] is not None else None,
    )

"""One sealed index version in PostgreSQL, opened for reading (``index.backend.VersionReader``).

A version is the set of briefing revisions listed in ``version_members``; revisions and their
passages never change once written, so the set is loaded once at open and every query filters
on it. ``reading()`` runs the reads of one answer in a single read-only REPEATABLE READ
transaction, so a version removed by a cleanup elsewhere cannot vanish halfway through an answer.

Dense search is exact (a scan of the filtered passages) when the filtered set is small, and
uses the HNSW index (cosine, with pgvector's iterative scan so filters still fill k) otherwise.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import psycopg

from index.backend import PassageFilter, VersionMeta, VersionUnavailable
from index.models import BriefingMeta, Passage
from index.pg.database import Database
from index.pg.lexical import LexicalIndex
from index.store import StoredPassage, unpack_vectors

EXACT_MAX = 5_000  # filtered passages up to which dense search scans (about 7 ms) instead of HNSW
EF_SEARCH_MIN = 100

_PASSAGE_COLS = (
    "p.vid, p.passage_id, p.briefing_id, p.ordinal, p.paragraph, p.paragraph_end, p.part, p.section, "
    "p.start_offset, p.end_offset, p.text, p.content_hash, p.embed_hash, p.kind, p.sentences, "
    "p.sentence_vectors"
)


@dataclass(frozen=True)
class _Member:
    rev_id: int
    meta: BriefingMeta
    passages: int


class PgVersion:
    """A sealed version of one corpus; safe to share across threads."""

    def __init__(self, db: Database, corpus_id: int, version: str, *, exact_max: int = EXACT_MAX) -> None:
        self.db = db
        self.corpus_id = corpus_id
        self.version = version
        self.exact_max = exact_max
        self._local = threading.local()
        with db.connection() as con:
            row = con.execute(
                f"SELECT {VERSION_COLS}, tokens FROM versions "
                "WHERE corpus_id = %s AND version = %s AND state = 'sealed'",
                (corpus_id, version),
            ).fetchone()
            if row is None:
                raise VersionUnavailable(f"{version}: no such complete version")
            members = con.execute(
                f"SELECT r.rev_id, r.passage_count, {_BRIEFING_COLS} FROM version_members m "
                "JOIN briefing_revs r ON r.rev_id = m.rev_id "
                "WHERE m.corpus_id = %s AND m.version = %s ORDER BY r.date DESC NULLS LAST, r.title",
                (corpus_id, version),
            ).fetchall()
        self.meta = version_meta(row, db.engine)
        self._members = {
            str(m[2]): _Member(rev_id=int(m[0]), meta=_meta(m[2:]), passages=int(m[1])) for m in members
        }
        if len(self._members) != self.meta.briefings or (
            sum(m.passages for m in self._members.values()) != self.meta.passages
        ):
            raise VersionUnavailable(f"{version}: its briefings do not add up to its counts (damaged)")
        self.dim = self.meta.dim
        self._all_revs = [m.rev_id for m in self._members.values()]
        self.restricted = {bid: m.meta.audience for bid, m in self._members.items() if not m.meta.is_public}
        self._lexical = LexicalIndex(self._connection, corpus_id, version, self.meta.passages, int(row[-1]))

    # ------------------------------------------------------------------ metadata

    def briefing(self, briefing_id: str) -> BriefingMeta | None:
        m = self._members.get(briefing_id)
        return m.meta if m else None

    def briefings(self) -> list[BriefingMeta]:
        return [m.meta for m in self._members.values()]

    def briefing_hashes(self) -> dict[str, tuple[str, str]]:
        return {bid: (m.meta.path, m.meta.sha256) for bid, m in self._members.items()}

    def counts(self) -> tuple[int, int]:
        return self.meta.briefings, self.meta.passages

    def close(self) -> None:
        """Nothing to release: connections belong to the database's pool."""

    # ------------------------------------------------------------------ connections

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Run the reads inside on one connection, in one consistent snapshot."""
        if getattr(self._local, "con", None) is not None:
            yield
            return
        with self.db.connection() as con, con.transaction():
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            alive = con.execute(
                "SELECT 1 FROM versions WHERE corpus_id = %s AND version = %s AND state = 'sealed'",
                (self.corpus_id, self.version),
            ).fetchone()
            if alive is None:
                raise VersionUnavailable(f"{self.version}: removed since it was opened")
            self._local.con = con
            try:
                yield
            finally:
                self._local.con = None

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        con = getattr(self._local, "con", None)
        if con is not None:
            yield con
            return
        with self.db.connection() as pooled:
            yield pooled

    def revs(self, where: PassageFilter | None) -> list[int]:
        """Revision ids of the briefings a filter admits."""
        if where is None:
            return self._all_revs
        return [m.rev_id for m in self._members.values() if where.admits(m.meta)]

    def _passages_in(self, where: PassageFilter | None) -> int:
        if where is None:
            return self.meta.passages
        return sum(m.passages for m in self._members.values() if where.admits(m.meta))

    # ------------------------------------------------------------------ search

    def dense_search(
        self, qvec: np.ndarray, k: int, where: PassageFilter | None = None
    ) -> list[tuple[int, float]]:
        """Top ``k`` (vid, cosine) among the passages ``where`` admits, best first."""
        revs = self.revs(where)
        if k <= 0 or not revs:
            return []
        q = np.ascontiguousarray(qvec, dtype=np.float32).reshape(-1)
        if self._passages_in(where) <= self.exact_max:
            # Ordering by the plain column cannot use the expression index: an exact scan.
            sql = (
                "SELECT vid, 1 - (embedding <=> %(q)s) FROM passage_vectors WHERE rev_id = ANY(%(revs)s::bigint[]) "
                "ORDER BY embedding <=> %(q)s, vid LIMIT %(k)s"
            )
            with self._connection() as con:
                rows = con.execute(sql, {"q": q, "revs": revs, "k": k}).fetchall()
            return [(int(v), float(s)) for v, s in rows]
        with self._connection() as con, con.transaction():
            con.execute(
                "SELECT set_config('hnsw.ef_search', %s, true), "
                "set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                (str(min(1000, max(EF_SEARCH_MIN, 2 * k))),),
            )
            rows = con.execute(hnsw_query(self.dim), {"q": q, "revs": revs, "k": k}).fetchall()
        return [(int(v), float(s)) for v, s in rows]

    def lexical_search(
        self,
        terms: Sequence[str],
        k: int,
        field_weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        where: PassageFilter | None = None,
    ) -> list[tuple[int, float]]:
        """Top ``k`` (vid, BM25) among the passages ``where`` admits, best first."""
        return self._lexical.search(terms, k, field_weights, self.revs(where))

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        return self._lexical.document_frequencies(terms)

    # ------------------------------------------------------------------ passages

    def fetch(self, vids: Sequence[int]) -> tuple[list[StoredPassage], np.ndarray]:
        """Passages ``vids`` (those of this version, in the order asked) and their vectors."""
        if not vids:
            return [], np.zeros((0, self.dim), dtype=np.float32)
        with self._connection() as con, con.cursor(binary=True) as cur:
            rows = cur.execute(
                f"SELECT {_PASSAGE_COLS}, v.embedding FROM passages p JOIN passage_vectors v "
                "ON v.rev_id = p.rev_id AND v.ordinal = p.ordinal "
                "WHERE p.rev_id = ANY(%s::bigint[]) AND p.vid = ANY(%s::bigint[])",
                (self._all_revs, list(vids)),
            ).fetchall()
        by_vid = {int(r[0]): r for r in rows}
        found = [by_vid[v] for v in vids if v in by_vid]
        stored = [_stored(r, self.dim) for r in found]
        vectors = (
            np.vstack([r[-1].to_numpy() for r in found]).astype(np.float32)
            if found
            else np.zeros((0, self.dim), dtype=np.float32)
        )
        return stored, vectors

    def passage_by_id(self, passage_id: str) -> StoredPassage | None:
        with self._connection() as con:
            row = con.execute(
                f"SELECT {_PASSAGE_COLS} FROM passages p WHERE p.rev_id = ANY(%s::bigint[]) AND p.passage_id = %s",
                (self._all_revs, passage_id),
            ).fetchone()
        return _stored(row, self.dim) if row else None

    def neighbours(self, briefing_id: str, ordinal: int, before: int = 1, after: int = 1) -> list[Passage]:
        m = self._members.get(briefing_id)
        if m is None:
            return []
        with self._connection() as con:
            rows = con.execute(
                f"SELECT {_PASSAGE_COLS} FROM passages p WHERE p.rev_id = %s AND p.ordinal BETWEEN %s AND %s "
                "ORDER BY p.ordinal",
                (m.rev_id, ordinal - before, ordinal + after),
            ).fetchall()
        return [_stored(r, self.dim).passage for r in rows]

    def briefing_passages(self, briefing_id: str) -> list[Passage]:
        m = self._members.get(briefing_id)
        if m is None:
            return []
        with self._connection() as con:
            rows = con.execute(
                f"SELECT {_PASSAGE_COLS} FROM passages p WHERE p.rev_id = %s ORDER BY p.ordinal", (m.rev_id,)
            ).fetchall()
        return [_stored(r, self.dim).passage for r in rows]

    def iter_passages(self) -> Iterator[StoredPassage]:
        """Every passage of the version, by vid (streamed by a server-side cursor on a connection
        of its own, outside any ``reading()`` snapshot)."""
        with self.db.connection() as con, con.transaction(), con.cursor(name="iter_passages") as cur:
            cur.itersize = 1000
            cur.execute(
                f"SELECT {_PASSAGE_COLS} FROM passages p WHERE p.rev_id = ANY(%s::bigint[]) ORDER BY p.vid",
                (self._all_revs,),
            )
            for row in cur:
                yield _stored(row, self.dim)

    def reusable_vectors(
        self, embed_hashes: Iterable[str]
    ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        """Vectors (and sentence vectors) already computed in this corpus for the same text and
        model (the embed hash covers both), by embed hash."""
        wanted = sorted(set(embed_hashes))
        out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        if not wanted:
            return out
        with self._connection() as con, con.cursor(binary=True) as cur:
            for i in range(0, len(wanted), 5000):
                cur.execute(
                    "SELECT DISTINCT ON (p.embed_hash) p.embed_hash, v.embedding, p.sentence_vectors "
                    "FROM passages p JOIN passage_vectors v ON v.rev_id = p.rev_id AND v.ordinal = p.ordinal "
                    "WHERE p.corpus_id = %s AND v.dim = %s AND p.embed_hash = ANY(%s) "
                    "ORDER BY p.embed_hash, p.rev_id DESC",
                    (self.corpus_id, self.dim, wanted[i : i + 5000]),
                )
                for h, vec, sent in cur:
                    out[str(h)] = (vec.to_numpy().astype(np.float32), unpack_vectors(sent, self.dim))
        return out


def hnsw_query(dim: int) -> bytes:
    """Top-k cosine through the HNSW index of ``dim`` (the partial expression index must match:
    its expression and its ``dim = N`` predicate, as literals), re-sorted after the relaxed scan."""
    d = int(dim)
    return (
        f"WITH c AS MATERIALIZED (SELECT vid, (embedding::vector({d})) <=> %(q)s::vector({d}) AS dist "
        f"FROM passage_vectors WHERE dim = {d} AND rev_id = ANY(%(revs)s::bigint[]) "
        f"ORDER BY (embedding::vector({d})) <=> %(q)s::vector({d}) LIMIT %(k)s) "
        "SELECT vid, 1 - dist FROM c ORDER BY dist, vid"
    ).encode()


VERSION_COLS = "version, created_at, model, dim, chunker, briefings, passages, build_seconds, parent"


def version_meta(row: Sequence[Any], engine: str) -> VersionMeta:
    """A ``VersionMeta`` from the ``VERSION_COLS`` of a ``versions`` row."""
    return VersionMeta(
        version=str(row[0]),
        created_at=row[1].strftime("%Y-%m-%dT%H:%M:%SZ"),
        model=str(row[2]),
        dim=int(row[3]),
        chunker=str(row[4]),
        briefings=int(row[5]),
        passages=int(row[6]),
        build_seconds=float(row[7]),
        parent=str(row[8]) if row[8] is not None else None,
        engine=engine,
    )


# The last column: the day the corpus first held the briefing (its oldest kept revision), shown
# as "added YYYY-MM-DD" for an undated briefing, as the file backend does.
_BRIEFING_COLS = (
    "r.briefing_id, r.path, r.title, r.date, r.source, r.url, r.tags, r.audience, r.sha256, r.size, r.warnings, "
    "(SELECT min(f.indexed_at) FROM briefing_revs f WHERE f.corpus_id = r.corpus_id AND f.briefing_id = r.briefing_id)"
)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _meta(row: Sequence[Any]) -> BriefingMeta:
    return BriefingMeta(
        briefing_id=str(row[0]),
        path=str(row[1]),
        title=str(row[2]),
        date=row[3] if isinstance(row[3], date) else None,
        source=str(row[4]) if row[4] is not None else None,
        url=str(row[5]) if row[5] is not None else None,
        tags=tuple(_json(row[6])),
        audience=tuple(_json(row[7])),
        sha256=str(row[8]),
        size=int(row[9]),
        warnings=tuple(_json(row[10])),
        added=_day(row[11]) if len(row) > 11 else None,
    )


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _stored(row: Sequence[Any], dim: int) -> StoredPassage:
    p = Passage(
        vid=int(row[0]),
        passage_id=str(row[1]),
        briefing_id=str(row[2]),
        ordinal=int(row[3]),
        paragraph=int(row[4]),
        paragraph_end=int(row[5]),
        part=str(row[6]),
        section=tuple(_json(row[7])),
        start=int(row[8]),
        end=int(row[9]),
        text=str(row[10]),
        content_hash=str(row[11]),
        kind=str(row[13]),
        sentences=tuple((int(a), int(b)) for a, b in _json(row[14])),
    )
    sent = bytes(row[15]) if row[15] is not None else None
    return StoredPassage(passage=p, embed_hash=str(row[12]), sentence_vectors=unpack_vectors(sent, dim))

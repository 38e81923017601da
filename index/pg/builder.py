"""Build a new index version in PostgreSQL beside the live one (``index.backend.VersionBuilder``).

It writes through the connection that holds the corpus's reindex lock: if that connection
breaks, the lock is gone and so is the build. The version starts as ``building`` with the base
version's briefings (their revisions and passages are shared, not copied); changed briefings get
new revisions; ``seal`` checks and counts it; ``publish`` makes it live in one transaction.
Readers only ever open sealed versions, so a half-built one is invisible, and whatever a killed
build left is removed by the next reindex (``PgWriter.clean_abandoned``).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from index.backend import VersionMeta
from index.models import BriefingMeta, Passage, ReindexReport
from index.pg.lexical import CONFIG, count_words
from index.pg.reader import VERSION_COLS, version_meta
from index.pg.schema import ensure_vector_index, vector_index_exists
from index.store import pack_vectors
from index.versions import utc_now

_INSERT_PASSAGE = """
INSERT INTO passages (rev_id, ordinal, corpus_id, vid, passage_id, briefing_id, paragraph,
    paragraph_end, part, section, start_offset, end_offset, text, content_hash, embed_hash, kind,
    sentences, sentence_vectors)
VALUES (%(rev)s, %(ordinal)s, %(corpus)s, %(vid)s, %(pid)s, %(bid)s, %(paragraph)s, %(paragraph_end)s,
    %(part)s, %(section)s, %(start)s, %(end)s, %(text)s, %(content_hash)s, %(embed_hash)s, %(kind)s,
    %(sentences)s, %(sent)s)
"""
_INSERT_VECTOR = """
INSERT INTO passage_vectors (rev_id, ordinal, vid, dim, embedding)
VALUES (%(rev)s, %(ordinal)s, %(vid)s, %(dim)s, %(vec)s)
"""
_INSERT_TERMS = f"""
INSERT INTO passage_terms (rev_id, ordinal, vid, n_tokens, tsv)
VALUES (%(rev)s, %(ordinal)s, %(vid)s, %(n_tokens)s,
    setweight(to_tsvector('{CONFIG}', %(title)s), 'A')
    || setweight(to_tsvector('{CONFIG}', %(section_text)s), 'B')
    || setweight(to_tsvector('{CONFIG}', %(text)s), 'D'))
"""


ANALYZE_AFTER = 5_000  # passages added by a build after which the planner's statistics are refreshed


class PgVersionBuilder:
    """A version being built; not visible to readers until ``publish``."""

    def __init__(
        self,
        con: psycopg.Connection[Any],
        corpus_id: int,
        corpus: str,
        version: str,
        base: str | None,
        *,
        model: str,
        dim: int,
        chunker: str,
        engine: str,
    ) -> None:
        self.con = con
        self.engine = engine
        self.corpus_id = corpus_id
        self.corpus = corpus
        self.version = version
        self.base = base
        self.model = model
        self.dim = dim
        self.chunker = chunker
        # Building a graph after a large first load is much faster than growing it row by row;
        # once the index exists (other versions, other corpora) it is updated as rows come.
        self._index_at_seal = not vector_index_exists(con, dim)
        self._added = 0
        if not self._index_at_seal:
            ensure_vector_index(con, dim)
        builder = {"pid": str(os.getpid()), "host": socket.gethostname(), "since": utc_now()}
        with con.transaction():
            con.execute(
                "INSERT INTO versions (corpus_id, version, state, parent, model, dim, chunker, builder) "
                "VALUES (%s, %s, 'building', %s, %s, %s, %s, %s)",
                (corpus_id, version, base, model, dim, chunker, json.dumps(builder)),
            )
            if base is not None:
                con.execute(
                    "INSERT INTO version_members (corpus_id, version, briefing_id, rev_id) "
                    "SELECT corpus_id, %s, briefing_id, rev_id FROM version_members "
                    "WHERE corpus_id = %s AND version = %s",
                    (version, corpus_id, base),
                )

    def remove_briefing(self, briefing_id: str) -> int:
        """Drop a briefing from this version; returns how many passages it had."""
        row = self.con.execute(
            "WITH gone AS (DELETE FROM version_members WHERE corpus_id = %s AND version = %s "
            "AND briefing_id = %s RETURNING rev_id) "
            "SELECT coalesce(sum(r.passage_count), 0) FROM gone JOIN briefing_revs r USING (rev_id)",
            (self.corpus_id, self.version, briefing_id),
        ).fetchone()
        return int(row[0]) if row else 0

    def add_briefing(
        self,
        meta: BriefingMeta,
        passages: Sequence[Passage],
        embed_hashes: Sequence[str],
        vectors: np.ndarray,
        sentence_vectors: Sequence[np.ndarray | None],
        indexed_at: str,
    ) -> None:
        """Add (or replace) a briefing with its passages and vectors, in one transaction."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.shape != (len(passages), self.dim):
            raise ValueError(f"expected {(len(passages), self.dim)} vectors, got {vecs.shape}")
        if not (len(embed_hashes) == len(sentence_vectors) == len(passages)):
            raise ValueError("passages, embed hashes and sentence vectors differ in number")
        words = [count_words(meta.title, " ".join(p.section), p.text) for p in passages]
        with self.con.transaction():
            self.con.execute(
                "DELETE FROM version_members WHERE corpus_id = %s AND version = %s AND briefing_id = %s",
                (self.corpus_id, self.version, meta.briefing_id),
            )
            row = self.con.execute(
                "INSERT INTO briefing_revs (corpus_id, briefing_id, path, title, date, source, url, tags, "
                "audience, sha256, size, warnings, indexed_at, passage_count, tokens, created_by) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING rev_id",
                (
                    self.corpus_id,
                    meta.briefing_id,
                    meta.path,
                    meta.title,
                    meta.date,
                    meta.source,
                    meta.url,
                    json.dumps(list(meta.tags)),
                    json.dumps(list(meta.audience)),
                    meta.sha256,
                    meta.size,
                    json.dumps(list(meta.warnings)),
                    indexed_at,
                    len(passages),
                    sum(words),
                    self.version,
                ),
            ).fetchone()
            assert row is not None
            rev = int(row[0])
            rows = [
                {
                    "rev": rev,
                    "ordinal": p.ordinal,
                    "corpus": self.corpus_id,
                    "vid": p.vid,
                    "pid": p.passage_id,
                    "bid": p.briefing_id,
                    "paragraph": p.paragraph,
                    "paragraph_end": p.paragraph_end,
                    "part": p.part,
                    "section": json.dumps(list(p.section)),
                    "start": p.start,
                    "end": p.end,
                    "text": p.text,
                    "content_hash": p.content_hash,
                    "embed_hash": h,
                    "kind": p.kind,
                    "sentences": json.dumps([list(x) for x in p.sentences]),
                    "sent": pack_vectors(sv),
                    "n_tokens": n_words,
                    "dim": self.dim,
                    "vec": vecs[i],
                    "title": meta.title,
                    "section_text": " ".join(p.section),
                }
                for i, (p, h, sv, n_words) in enumerate(
                    zip(passages, embed_hashes, sentence_vectors, words, strict=True)
                )
            ]
            with self.con.cursor() as cur:
                for sql in (_INSERT_PASSAGE, _INSERT_VECTOR, _INSERT_TERMS):
                    cur.executemany(sql, rows)
            self.con.execute(
                "INSERT INTO version_members (corpus_id, version, briefing_id, rev_id) VALUES (%s, %s, %s, %s)",
                (self.corpus_id, self.version, meta.briefing_id, rev),
            )
        self._added += len(passages)

    def counts(self) -> tuple[int, int]:
        """(briefings, passages) of the version so far."""
        row = self.con.execute(
            "SELECT count(*), coalesce(sum(r.passage_count), 0) FROM version_members m "
            "JOIN briefing_revs r ON r.rev_id = m.rev_id WHERE m.corpus_id = %s AND m.version = %s",
            (self.corpus_id, self.version),
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def seal(self, report: ReindexReport) -> VersionMeta:
        """Check the version is whole and mark it complete (not yet live)."""
        if self._index_at_seal:
            # The graph is built fastest in memory: about 2 KB a passage at 384 dimensions.
            self.con.execute("SET maintenance_work_mem = '1GB'")
            try:
                ensure_vector_index(self.con, self.dim)
            finally:
                self.con.execute("RESET maintenance_work_mem")
        if self._added >= ANALYZE_AFTER:
            # Fresh statistics, or the planner misjudges how selective a word or filter is.
            self.con.execute("ANALYZE passages, passage_vectors, passage_terms")
        with self.con.transaction():
            self._term_stats()
            row = self.con.execute(
                "SELECT count(*), coalesce(sum(r.passage_count), 0), coalesce(sum(r.tokens), 0), "
                + ", ".join(
                    f"(SELECT count(*) FROM {table} x JOIN version_members m2 ON m2.rev_id = x.rev_id "
                    "WHERE m2.corpus_id = %(c)s AND m2.version = %(v)s)"
                    for table in ("passages", "passage_vectors", "passage_terms")
                )
                + " FROM version_members m JOIN briefing_revs r ON r.rev_id = m.rev_id "
                "WHERE m.corpus_id = %(c)s AND m.version = %(v)s",
                {"c": self.corpus_id, "v": self.version},
            ).fetchone()
            assert row is not None
            briefings, passages, tokens, *stored = (int(x) for x in row)
            if any(n != passages for n in stored):
                raise RuntimeError(
                    f"index out of step: {passages} passages listed but {stored} stored (text, vectors, terms)"
                )
            done = self.con.execute(
                "UPDATE versions SET state = 'sealed', sealed_at = now(), briefings = %s, passages = %s, "
                "tokens = %s, build_seconds = %s, report = %s WHERE corpus_id = %s AND version = %s "
                f"AND state = 'building' RETURNING {VERSION_COLS}",
                (
                    briefings,
                    passages,
                    tokens,
                    round(report.seconds, 3),
                    json.dumps(report.to_json()),
                    self.corpus_id,
                    self.version,
                ),
            ).fetchone()
            if done is None:
                raise RuntimeError(f"version {self.version} is no longer being built")
        return version_meta(done, self.engine)

    def _term_stats(self) -> None:
        """The version's term statistics: the base's, plus the revisions it added, minus those
        it dropped (one changed briefing costs that briefing), or counted afresh."""
        c, v, base = self.corpus_id, self.version, self.base
        members = "SELECT rev_id FROM version_members WHERE corpus_id = %s AND version = %s"
        has_base = (
            base is not None
            and self.con.execute(
                "SELECT 1 FROM version_terms WHERE corpus_id = %s AND version = %s LIMIT 1", (c, base)
            ).fetchone()
        )
        if not has_base:
            revs = [r[0] for r in self.con.execute(members, (c, v))]
            self.con.execute(
                "INSERT INTO version_terms (corpus_id, version, lexeme, ndoc) "
                "SELECT %s, %s, word, ndoc FROM ts_stat(%s)",
                (c, v, _terms_of(revs)),
            )
            return
        added = [r[0] for r in self.con.execute(f"{members} EXCEPT {members}", (c, v, c, base))]
        dropped = [r[0] for r in self.con.execute(f"{members} EXCEPT {members}", (c, base, c, v))]
        self.con.execute(
            "INSERT INTO version_terms (corpus_id, version, lexeme, ndoc) "
            "SELECT %s, %s, lexeme, sum(n) FROM ("
            " SELECT lexeme, ndoc AS n FROM version_terms WHERE corpus_id = %s AND version = %s"
            " UNION ALL SELECT word, ndoc FROM ts_stat(%s)"
            " UNION ALL SELECT word, -ndoc FROM ts_stat(%s)"
            ") AS t GROUP BY lexeme HAVING sum(n) > 0",
            (c, v, c, base, _terms_of(added), _terms_of(dropped)),
        )

    def publish(self) -> None:
        """Make the sealed version live (one transaction; readers move on their next question)."""
        switch_live(self.con, self.corpus_id, self.corpus, self.version)

    def abort(self) -> None:
        """Forget this version and what only it used (best effort: the next reindex cleans up)."""
        if self.con.closed or self.con.broken:
            return
        try:
            with self.con.transaction():
                self.con.execute(
                    "DELETE FROM versions WHERE corpus_id = %s AND version = %s AND state = 'building'",
                    (self.corpus_id, self.version),
                )
                collect_garbage(self.con, self.corpus_id)
        except psycopg.Error:
            pass


def _terms_of(revs: Sequence[int]) -> str:
    """The query ``ts_stat`` counts lexemes over: the passages of some revisions (ids only)."""
    ids = ",".join(str(int(r)) for r in revs)
    return f"SELECT tsv FROM passage_terms WHERE rev_id = ANY('{{{ids}}}'::bigint[])"


def switch_live(con: psycopg.Connection[Any], corpus_id: int, corpus: str, version: str) -> None:
    """Point the corpus at a sealed version and tell listeners, in one transaction."""
    with con.transaction():
        ok = con.execute(
            "SELECT 1 FROM versions WHERE corpus_id = %s AND version = %s AND state = 'sealed' FOR SHARE",
            (corpus_id, version),
        ).fetchone()
        if ok is None:
            raise RuntimeError(f"version {version} is not complete; it cannot go live")
        con.execute(
            "UPDATE corpora SET live_version = %s, switches = switches + 1, switched_at = now() "
            "WHERE corpus_id = %s",
            (version, corpus_id),
        )
        con.execute(
            "SELECT pg_notify('briefbot_live', %s)", (json.dumps({"corpus": corpus, "version": version}),)
        )


def collect_garbage(con: psycopg.Connection[Any], corpus_id: int) -> int:
    """Delete revisions (and their passages) that no version lists any more."""
    row = con.execute(
        "WITH gone AS (DELETE FROM briefing_revs r WHERE r.corpus_id = %s AND NOT EXISTS "
        "(SELECT 1 FROM version_members m WHERE m.rev_id = r.rev_id) RETURNING 1) SELECT count(*) FROM gone",
        (corpus_id,),
    ).fetchone()
    return int(row[0]) if row else 0

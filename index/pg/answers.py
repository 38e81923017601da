"""Answer records in PostgreSQL: what an answer showed, by short random key, so that its
buttons work whichever bot process receives the click. Records belong to one corpus: a key
never opens a record of another corpus (another Discord server)."""

from __future__ import annotations

import secrets

from index.pg.database import Database

KEEP_DAYS = 90


class PgAnswerRecords:
    """JSON answer records of one corpus (``index.backend.AnswerRecords``)."""

    def __init__(self, db: Database, corpus: str, keep_days: int = KEEP_DAYS) -> None:
        self.db = db
        self.corpus = corpus
        self.keep_days = keep_days

    def put(self, record_json: str) -> str:
        """Store a record under a new key (and forget records older than ``keep_days``)."""
        key = secrets.token_urlsafe(8)
        with self.db.connection() as con, con.transaction():
            con.execute(
                "INSERT INTO answer_records (key, corpus, record) VALUES (%s, %s, %s::jsonb)",
                (key, self.corpus, record_json),
            )
            con.execute(
                "DELETE FROM answer_records WHERE created_at < now() - make_interval(days => %s)",
                (self.keep_days,),
            )
        return key

    def claim(self, key: str, what: str) -> bool:
        """True the first time ``what`` is claimed for this corpus's record ``key``, else False
        (also when there is no such record: nothing to act on)."""
        with self.db.connection() as con:
            row = con.execute(
                "INSERT INTO answer_claims (key, what) SELECT key, %s FROM answer_records "
                "WHERE key = %s AND corpus = %s ON CONFLICT DO NOTHING RETURNING 1",
                (what, key, self.corpus),
            ).fetchone()
        return row is not None

    def release(self, key: str, what: str) -> None:
        with self.db.connection() as con:
            con.execute(
                "DELETE FROM answer_claims c USING answer_records r WHERE c.key = %s AND c.what = %s "
                "AND r.key = c.key AND r.corpus = %s",
                (key, what, self.corpus),
            )

    def get(self, key: str) -> str | None:
        with self.db.connection() as con:
            row = con.execute(
                "SELECT record::text FROM answer_records WHERE key = %s AND corpus = %s", (key, self.corpus)
            ).fetchone()
        return str(row[0]) if row else None

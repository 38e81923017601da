"""One reindex at a time per corpus, across every process and machine: a PostgreSQL advisory lock.

The lock belongs to a database session, so it is released by the server when its holder exits,
crashes or loses the network: no stale lock survives a killed reindex. Who holds it (process,
host, since, who started it) is written to ``reindex_holders``; a row counts only while its
session still holds the lock, so a leftover row of a dead session is never reported.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from index.pg.database import Database
from index.pg.schema import MIGRATE_LOCK
from index.versions import ReindexBusyError, utc_now

LOCK_CLASS = MIGRATE_LOCK  # key 0 is the migrations' lock; corpus ids start at 1

_HELD = """
SELECT 1 FROM pg_locks l
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %(cls)s::oid
  AND l.objid = %(key)s::oid AND l.objsubid = 2 AND l.database = (
      SELECT oid FROM pg_database WHERE datname = current_database())
"""


class ReindexLock:
    """The reindex lock of one corpus."""

    def __init__(self, db: Database, corpus_id: int) -> None:
        self.db = db
        self.corpus_id = corpus_id

    @contextmanager
    def hold(self, who: str = "") -> Iterator[psycopg.Connection[Any]]:
        """Hold the lock or raise ``ReindexBusyError`` at once; yields the holding connection.

        Write through that connection: if it breaks, the lock is gone and so are the writes."""
        con = self.db.dedicated()
        try:
            row = con.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, self.corpus_id)).fetchone()
            if not row or not row[0]:
                raise ReindexBusyError(self.holder(con) or {"who": "another process"})
            holder = {"pid": str(os.getpid()), "host": socket.gethostname(), "since": utc_now(), "who": who}
            con.execute(
                "INSERT INTO reindex_holders (corpus_id, backend_pid, holder) "
                "VALUES (%s, pg_backend_pid(), %s) ON CONFLICT (corpus_id) DO UPDATE "
                "SET backend_pid = EXCLUDED.backend_pid, holder = EXCLUDED.holder",
                (self.corpus_id, json.dumps(holder)),
            )
            try:
                yield con
            finally:
                _release(con, self.corpus_id)
        finally:
            con.close()

    def holder(self, con: psycopg.Connection[Any] | None = None) -> dict[str, str]:
        """Who holds the lock now ({} when nobody does)."""
        sql = (
            "SELECT h.holder FROM reindex_holders h WHERE h.corpus_id = %(key)s AND EXISTS ("
            + _HELD
            + " AND l.pid = h.backend_pid)"
        )
        args = {"cls": LOCK_CLASS, "key": self.corpus_id}
        if con is not None:
            row = con.execute(sql, args).fetchone()
        else:
            with self.db.connection() as pooled:
                row = pooled.execute(sql, args).fetchone()
        if not row:
            return {}
        return {str(k): str(v) for k, v in dict(row[0]).items()}

    def held(self) -> bool:
        """True while any session holds the lock."""
        with self.db.connection() as con:
            return con.execute(_HELD, {"cls": LOCK_CLASS, "key": self.corpus_id}).fetchone() is not None


def _release(con: psycopg.Connection[Any], corpus_id: int) -> None:
    if con.closed or con.broken:
        return  # the server dropped the session, and with it the lock
    try:
        con.execute(
            "DELETE FROM reindex_holders WHERE corpus_id = %s AND backend_pid = pg_backend_pid()",
            (corpus_id,),
        )
        con.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, corpus_id))
    except psycopg.Error:
        pass  # closing the connection releases it all the same

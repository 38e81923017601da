"""Answer records in a small SQLite file beside the index (the file backend's
``index.backend.AnswerRecords``): JSON by short random key, and one-time claims on them.
Blocking: call from a thread."""

from __future__ import annotations

import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path

KEEP_ANSWERS_DAYS = 90


class SqliteAnswerRecords:
    """JSON answer records by short random key, in one SQLite file."""

    def __init__(self, path: Path, keep_days: int = KEEP_ANSWERS_DAYS) -> None:
        self.path = path
        self.keep_days = keep_days

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10)
        con.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, created REAL, record TEXT)")
        con.execute("CREATE TABLE IF NOT EXISTS claims (key TEXT, what TEXT, PRIMARY KEY (key, what))")
        return con

    def put(self, record_json: str) -> str:
        """Store a record under a new key (and forget records older than ``keep_days``)."""
        key = secrets.token_urlsafe(8)
        now = time.time()
        with closing(self._connect()) as con, con:
            con.execute("INSERT INTO answers VALUES (?, ?, ?)", (key, now, record_json))
            old = [
                r[0]
                for r in con.execute(
                    "SELECT key FROM answers WHERE created < ?", (now - self.keep_days * 86400,)
                )
            ]
            con.executemany("DELETE FROM answers WHERE key = ?", [(k,) for k in old])
            con.executemany("DELETE FROM claims WHERE key = ?", [(k,) for k in old])
        return key

    def claim(self, key: str, what: str) -> bool:
        """True the first time ``what`` is claimed for an answer (posting it, say), else False."""
        with closing(self._connect()) as con, con:
            return con.execute("INSERT OR IGNORE INTO claims VALUES (?, ?)", (key, what)).rowcount == 1

    def release(self, key: str, what: str) -> None:
        with closing(self._connect()) as con, con:
            con.execute("DELETE FROM claims WHERE key = ? AND what = ?", (key, what))

    def get(self, key: str) -> str | None:
        with closing(self._connect()) as con:
            row = con.execute("SELECT record FROM answers WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

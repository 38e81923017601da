"""Answer records: what the buttons under one answer message need, kept in a small SQLite file
(``answers.sqlite3``) under a short random key that the buttons carry in their custom ids.

With one corpus per server each server has its own file, and each record names the server it
was given in: a record is never used in another server.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

KEEP_ANSWERS_DAYS = 90


@dataclass
class AnswerRecord:
    """What the buttons under one answer message need: the question and what it showed."""

    question: str
    briefing_id: str | None = None
    since: str | None = None
    version: str = ""
    shown: list[str] = field(default_factory=list)  # passage ids in this message, in order
    shown_briefings: list[str] = field(default_factory=list)
    # Per shown quote, its "Also in" entries as [briefing_id, label]: posting to a channel keeps
    # only the public ones.
    also_in: list[list[list[str]]] = field(default_factory=list)
    trimmed: list[bool] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # passage ids shown so far, earlier pages too
    first_number: int = 1
    asker_id: int | None = None  # who asked: only they (or a moderator) may delete a public answer
    public: bool = False  # the message is in the channel for everyone
    strong: list[bool] = field(default_factory=list)  # per shown passage
    # The answer whose question 👍/👎 count for: a More page or a posted copy votes on the
    # question of the answer it came from, so /gaps counts each question once.
    feedback_key: str | None = None
    # The server the answer was given in (None: a direct message, or a record from before this
    # was kept): its buttons work there only.
    guild_id: int | None = None

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> AnswerRecord:
        data = json.loads(text)
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


class AnswerStore:
    """Answer records by short random key, in one SQLite file. Blocking: call from a thread."""

    def __init__(self, path: Path, keep_days: int = KEEP_ANSWERS_DAYS) -> None:
        self.path = path
        self.keep_days = keep_days

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10)
        con.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, created REAL, record TEXT)")
        con.execute("CREATE TABLE IF NOT EXISTS claims (key TEXT, what TEXT, PRIMARY KEY (key, what))")
        return con

    def put(self, record: AnswerRecord) -> str:
        """Store ``record`` under a new key (and forget records older than ``keep_days``)."""
        key = secrets.token_urlsafe(8)
        now = time.time()
        with closing(self._connect()) as con, con:
            con.execute("INSERT INTO answers VALUES (?, ?, ?)", (key, now, record.to_json()))
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

    def get(self, key: str) -> AnswerRecord | None:
        with closing(self._connect()) as con:
            row = con.execute("SELECT record FROM answers WHERE key = ?", (key,)).fetchone()
        return AnswerRecord.from_json(row[0]) if row else None

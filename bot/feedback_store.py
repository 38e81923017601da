"""Questions asked, and what people thought of the answers, in one SQLite file.

Each answer message is one row of ``questions`` (keyed by the answer's button key): the
question, whether it was answered, the quotes shown and the index version. ``votes`` holds
👍/👎 and the reason for a 👎. Nobody's name is stored: a vote carries a salted hash of the
voter's id, only so that a second click changes the vote instead of adding one. Rows older
than ``keep_days`` are deleted. Blocking: call from a worker thread.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Literal

from index.models import Answer, Quote

Outcome = Literal["answered", "abstained", "nothing"]
REASONS = {
    "wrong": "Wrong passage",
    "outdated": "Outdated",
    "missing": "Not in the briefings",
    "other": "Other",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    answer_key TEXT PRIMARY KEY,
    asked_at REAL NOT NULL,
    question TEXT NOT NULL,
    outcome TEXT NOT NULL,
    public INTEGER NOT NULL,
    audiences TEXT NOT NULL DEFAULT '[]',  -- restricted audiences of the quotes shown
    shown TEXT NOT NULL DEFAULT '[]',      -- [{"passage_id", "briefing_id", "paragraph"}]
    index_version TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS questions_by_time ON questions(asked_at);
CREATE TABLE IF NOT EXISTS votes (
    answer_key TEXT NOT NULL REFERENCES questions(answer_key) ON DELETE CASCADE,
    voter TEXT NOT NULL,
    vote TEXT NOT NULL,
    reason TEXT,
    at REAL NOT NULL,
    PRIMARY KEY (answer_key, voter)
);
CREATE TABLE IF NOT EXISTS reviews (
    answer_key TEXT PRIMARY KEY REFERENCES questions(answer_key) ON DELETE CASCADE,
    at REAL NOT NULL,
    outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class ShownQuote:
    passage_id: str
    briefing_id: str
    paragraph: str


@dataclass
class GapRow:
    """One question that went unanswered or got a 👎."""

    answer_key: str
    asked_at: float
    question: str
    outcome: Outcome
    public: bool
    audiences: list[str]
    shown: list[ShownQuote]
    index_version: str
    reasons: list[str] = field(default_factory=list)  # reason codes of the 👎 votes
    downs: int = 0
    ups: int = 0


class FeedbackStore:
    """Questions and votes. One connection per call; safe from any thread."""

    def __init__(self, path: Path, keep_days: int = 90, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.keep_days = keep_days
        self._clock = clock
        self._schema_for: Path | None = None  # the file the tables were last made in

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if self._schema_for != self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10)) as con, con:
            con.execute("PRAGMA foreign_keys=ON")
            if self._schema_for != self.path:
                con.executescript(_SCHEMA)
                self._schema_for = self.path
            yield con

    def now(self) -> float:
        """The store's clock (seconds since the epoch)."""
        return self._clock()

    def record_question(
        self,
        answer_key: str,
        question: str,
        outcome: Outcome,
        *,
        public: bool,
        audiences: Sequence[str] = (),
        shown: Sequence[ShownQuote] = (),
        index_version: str = "",
    ) -> None:
        """Keep one answered (or unanswered) question; forget those past the retention."""
        now = self._clock()
        with self._db() as con:
            con.execute(
                "INSERT OR REPLACE INTO questions VALUES (?,?,?,?,?,?,?,?)",
                (
                    answer_key,
                    now,
                    question,
                    outcome,
                    int(public),
                    json.dumps(sorted(set(audiences))),
                    json.dumps([s.__dict__ for s in shown]),
                    index_version,
                ),
            )
            self._purge(con, now)

    def vote(
        self, answer_key: str, voter_id: int, vote: Literal["up", "down"], reason: str | None = None
    ) -> bool:
        """Record (or change) one person's vote on an answer; False when the answer is unknown
        (too old, or never recorded)."""
        if reason is not None and reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        with self._db() as con:
            if con.execute("SELECT 1 FROM questions WHERE answer_key=?", (answer_key,)).fetchone() is None:
                return False
            con.execute(
                "INSERT OR REPLACE INTO votes VALUES (?,?,?,?,?)",
                (answer_key, self._voter(con, voter_id), vote, reason, self._clock()),
            )
        return True

    def question(self, answer_key: str) -> GapRow | None:
        with self._db() as con:
            rows = self._rows(con, "q.answer_key = ?", [answer_key])
        return rows[0] if rows else None

    def gaps(
        self, since: float, *, include_private: bool, may_see: Callable[[Sequence[str]], bool]
    ) -> list[GapRow]:
        """Questions since ``since`` that abstained, found nothing, or got a 👎 — oldest first.

        ``may_see(audiences)`` drops rows whose quotes the reader may not see; questions asked
        privately appear only when ``include_private``.
        """
        with self._db() as con:
            rows = self._rows(
                con,
                "q.asked_at >= ? AND (q.outcome != 'answered' OR EXISTS "
                "(SELECT 1 FROM votes v WHERE v.answer_key = q.answer_key AND v.vote = 'down'))",
                [since],
            )
        return [
            r for r in rows if (include_private or r.public) and (not r.audiences or may_see(r.audiences))
        ]

    def wrong_passage_reports(self, *, may_see: Callable[[Sequence[str]], bool]) -> list[GapRow]:
        """👎 "wrong passage" answers no moderator has reviewed yet, oldest first."""
        with self._db() as con:
            rows = self._rows(
                con,
                "EXISTS (SELECT 1 FROM votes v WHERE v.answer_key = q.answer_key AND v.reason = 'wrong') "
                "AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.answer_key = q.answer_key)",
                [],
            )
        return [r for r in rows if not r.audiences or may_see(r.audiences)]

    def mark_reviewed(self, answer_key: str, outcome: str) -> None:
        with self._db() as con:
            con.execute("INSERT OR REPLACE INTO reviews VALUES (?,?,?)", (answer_key, self._clock(), outcome))

    def get_meta(self, key: str) -> str | None:
        with self._db() as con:
            row = con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._db() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (key, value))

    def purge(self) -> None:
        """Delete questions and votes older than the retention."""
        with self._db() as con:
            self._purge(con, self._clock())

    # ------------------------------------------------------------------ internals

    def _purge(self, con: sqlite3.Connection, now: float) -> None:
        con.execute("DELETE FROM questions WHERE asked_at < ?", (now - self.keep_days * 86400,))

    def _voter(self, con: sqlite3.Connection, voter_id: int) -> str:
        row = con.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
        salt = str(row[0]) if row else secrets.token_hex(16)
        if row is None:
            con.execute("INSERT INTO meta VALUES ('salt', ?)", (salt,))
        return sha256(f"{salt}:{voter_id}".encode()).hexdigest()[:32]

    def _rows(self, con: sqlite3.Connection, where: str, args: list[object]) -> list[GapRow]:
        sql = (
            "SELECT q.answer_key, q.asked_at, q.question, q.outcome, q.public, q.audiences, q.shown, "
            "q.index_version FROM questions q WHERE " + where + " ORDER BY q.asked_at, q.answer_key"
        )
        out: list[GapRow] = []
        for key, at, question, outcome, public, audiences, shown, version in con.execute(sql, args):
            votes = con.execute(
                "SELECT vote, reason FROM votes WHERE answer_key=? ORDER BY at", (key,)
            ).fetchall()
            out.append(
                GapRow(
                    answer_key=str(key),
                    asked_at=float(at),
                    question=str(question),
                    outcome=outcome,
                    public=bool(public),
                    audiences=[str(a) for a in json.loads(audiences)],
                    shown=[ShownQuote(**s) for s in json.loads(shown)],
                    index_version=str(version),
                    reasons=[str(r) for v, r in votes if v == "down" and r],
                    downs=sum(1 for v, _ in votes if v == "down"),
                    ups=sum(1 for v, _ in votes if v == "up"),
                )
            )
        return out


def record_answer(
    store: FeedbackStore, answer_key: str, question: str, answer: Answer, shown: Sequence[Quote], public: bool
) -> None:
    """Keep the question behind one answer message, with what it showed (blocking)."""
    outcome: Outcome = "nothing" if not answer.quotes else "abstained" if answer.abstained else "answered"
    store.record_question(
        answer_key,
        question,
        outcome,
        public=public,
        audiences=[a for q in shown if "all" not in q.audience for a in q.audience],
        shown=[ShownQuote(q.passage_id, q.briefing_id, q.attribution.paragraph_label) for q in shown],
        index_version=answer.index_version,
    )

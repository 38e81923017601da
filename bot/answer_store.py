"""Answer records: what the buttons under one answer message need, kept under a short random
key that the buttons carry in their custom ids: in a small SQLite file (``answers.sqlite3``), or
with ``BRIEFBOT_DATABASE_URL`` in the database, where every bot process finds them.

With one corpus per server each server has its own file, and each record names the server it
was given in: a record is never used in another server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from index.answer_records import KEEP_ANSWERS_DAYS, SqliteAnswerRecords
from index.backend import AnswerRecords, IndexUnavailableError, outage_errors

T = TypeVar("T")


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


class AnswerStoreUnavailable(OSError):
    """The records cannot be reached (the database is down): the answer goes out without buttons."""


class AnswerStore:
    """Typed answer records over the index backend's store (a SQLite file, or the shared database
    so that any bot process can serve the buttons). Blocking: call from a thread."""

    def __init__(
        self,
        path: Path | None = None,
        keep_days: int = KEEP_ANSWERS_DAYS,
        *,
        records: Callable[[], AnswerRecords] | None = None,
    ) -> None:
        if records is None:
            if path is None:
                raise ValueError("an answer store needs a file or a records backend")
            file = SqliteAnswerRecords(path, keep_days)
            records = lambda: file  # noqa: E731
        self.path = path
        self.keep_days = keep_days
        self._open = records
        self._records: AnswerRecords | None = None

    def _store(self) -> AnswerRecords:
        if self._records is None:
            self._records = self._open()  # the database's pool is opened on first use, in a thread
        return self._records

    def _call(self, fn: Callable[[AnswerRecords], T]) -> T:
        lost: tuple[type[Exception], ...] = (IndexUnavailableError, *outage_errors())
        try:
            return fn(self._store())
        except lost as exc:
            raise AnswerStoreUnavailable(f"answer records unavailable: {exc}") from exc

    def put(self, record: AnswerRecord) -> str:
        """Store ``record`` under a new key (and forget records older than ``keep_days``)."""
        return self._call(lambda r: r.put(record.to_json()))

    def claim(self, key: str, what: str) -> bool:
        """True the first time ``what`` is claimed for an answer (posting it, say), else False."""
        return self._call(lambda r: r.claim(key, what))

    def release(self, key: str, what: str) -> None:
        self._call(lambda r: r.release(key, what))

    def get(self, key: str) -> AnswerRecord | None:
        text = self._call(lambda r: r.get(key))
        return AnswerRecord.from_json(text) if text else None

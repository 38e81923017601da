"""One corpus's index in PostgreSQL (``index.backend.IndexBackend``): the live version, the
versions kept for rollback, the reindex lock, reports and answer records.

The live version is one column of one row (``corpora.live_version``): switching it is one
transaction, and every process sees the switch on its next question (``live_stamp`` is one
indexed read; the switch also sends ``NOTIFY briefbot_live`` for anyone listening).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg

from index import lineage
from index.backend import VersionMeta, VersionUnavailable
from index.models import ReindexReport
from index.pg.answers import KEEP_DAYS, PgAnswerRecords
from index.pg.builder import PgVersionBuilder, collect_garbage, switch_live
from index.pg.database import Database
from index.pg.lock import ReindexLock
from index.pg.reader import EXACT_MAX, VERSION_COLS, PgVersion, version_meta

KEEP_REPORTS = 50


def new_version_id() -> str:
    """Ids start with a UTC timestamp (to the microsecond), so they sort by creation time."""
    return f"v{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{secrets.token_hex(2)}"


class PgBackend:
    """One corpus (e.g. one Discord server's briefings) in a shared database."""

    def __init__(self, db: Database, corpus: str = "default", *, exact_max: int = EXACT_MAX) -> None:
        self.db = db
        self.corpus = corpus
        self.exact_max = exact_max
        with db.connection() as con:
            con.execute("INSERT INTO corpora (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", (corpus,))
            row = con.execute("SELECT corpus_id FROM corpora WHERE name = %s", (corpus,)).fetchone()
        assert row is not None
        self.corpus_id = int(row[0])
        self.lock = ReindexLock(db, self.corpus_id)

    def __repr__(self) -> str:
        return f"PgBackend(corpus={self.corpus!r})"

    def describe(self) -> str:
        return f"{self.db.describe()} (corpus {self.corpus})"

    # ------------------------------------------------------------------ versions

    def live_version(self) -> str | None:
        return self.live_stamp()[0]

    def live_stamp(self) -> tuple[str | None, int]:
        """(live version, number of switches so far): changes with every switch, rollbacks too."""
        with self.db.connection() as con:
            row = con.execute(
                "SELECT live_version, switches FROM corpora WHERE corpus_id = %s", (self.corpus_id,)
            ).fetchone()
        return (row[0], int(row[1])) if row else (None, 0)

    def live_problem(self) -> str | None:
        """Nothing to repair: the live pointer is a column, switched in a transaction."""
        return None

    def open_version(self, version: str) -> PgVersion:
        try:
            return PgVersion(self.db, self.corpus_id, version, exact_max=self.exact_max)
        except psycopg.DataError as exc:
            raise VersionUnavailable(f"{version}: unreadable ({exc})") from exc

    def _parents(self) -> dict[str, str | None]:
        with self.db.connection() as con:
            rows = con.execute(
                "SELECT version, parent FROM versions WHERE corpus_id = %s AND state = 'sealed'",
                (self.corpus_id,),
            ).fetchall()
        return {str(v): (str(p) if p is not None else None) for v, p in rows}

    def fallbacks(self, version: str) -> list[str]:
        return lineage.fallbacks(self._parents(), version)

    def versions(self) -> list[VersionMeta]:
        """Complete versions, oldest first."""
        with self.db.connection() as con:
            rows = con.execute(
                f"SELECT {VERSION_COLS} FROM versions WHERE corpus_id = %s AND state = 'sealed' ORDER BY version",
                (self.corpus_id,),
            ).fetchall()
        return [version_meta(r, self.db.engine) for r in rows]

    def drop(self) -> None:
        """Delete this corpus with all its versions, reports and answer records (an evaluation's
        own corpus when it is done; never called by the bot)."""
        with self.lock.hold("drop"), self.db.connection() as con, con.transaction():
            con.execute("DELETE FROM answer_records WHERE corpus = %s", (self.corpus,))
            con.execute("DELETE FROM corpora WHERE corpus_id = %s", (self.corpus_id,))

    # ------------------------------------------------------------------ the reindex lock

    def reindex_running(self) -> bool:
        return self.lock.held()

    def lock_holder(self) -> dict[str, str]:
        return self.lock.holder()

    @contextmanager
    def writer(self, who: str = "") -> Iterator[PgWriter]:
        """Hold the corpus's reindex lock (any machine) or raise ``ReindexBusyError``."""
        with self.lock.hold(who) as con:
            yield PgWriter(self, con)

    # ------------------------------------------------------------------ reports, answers

    def save_report(self, report: ReindexReport) -> None:
        with self.db.connection() as con, con.transaction():
            con.execute(
                "INSERT INTO reports (corpus_id, report) VALUES (%s, %s)",
                (self.corpus_id, json.dumps(report.to_json(), default=str)),
            )
            con.execute(
                "DELETE FROM reports WHERE corpus_id = %s AND id NOT IN "
                "(SELECT id FROM reports WHERE corpus_id = %s ORDER BY id DESC LIMIT %s)",
                (self.corpus_id, self.corpus_id, KEEP_REPORTS),
            )

    def last_report(self, live: str | None = None) -> ReindexReport | None:
        """The latest report; when it is not about the ``live`` version (the reindex was killed
        between publishing and saving it), the live version's own build report."""
        with self.db.connection() as con:
            row = con.execute(
                "SELECT report FROM reports WHERE corpus_id = %s ORDER BY id DESC LIMIT 1", (self.corpus_id,)
            ).fetchone()
            last = _report(row[0]) if row else None
            if live is None or (last is not None and last.version == live):
                return last
            own = con.execute(
                "SELECT report FROM versions WHERE corpus_id = %s AND version = %s AND report IS NOT NULL",
                (self.corpus_id, live),
            ).fetchone()
        return _report(own[0]) if own else last

    def answer_records(self, keep_days: int = KEEP_DAYS) -> PgAnswerRecords:
        return PgAnswerRecords(self.db, self.corpus, keep_days)


class PgWriter:
    """What only the holder of the reindex lock may do (``index.backend.IndexWriter``)."""

    def __init__(self, backend: PgBackend, con: psycopg.Connection[Any]) -> None:
        self.backend = backend
        self.con = con
        self.corpus_id = backend.corpus_id

    def clean_abandoned(self) -> list[str]:
        """Remove versions a killed reindex left half-built, and passages no version uses."""
        with self.con.transaction():
            rows = self.con.execute(
                "DELETE FROM versions WHERE corpus_id = %s AND state = 'building' RETURNING version",
                (self.corpus_id,),
            ).fetchall()
            collect_garbage(self.con, self.corpus_id)
        return sorted(str(r[0]) for r in rows)

    def begin(self, base: str | None, *, model: str, dim: int, chunker: str) -> PgVersionBuilder:
        """A new version beside the live one: a copy of ``base`` (shared rows), or empty."""
        return PgVersionBuilder(
            self.con,
            self.corpus_id,
            self.backend.corpus,
            new_version_id(),
            base,
            model=model,
            dim=dim,
            chunker=chunker,
            engine=self.backend.db.engine,
        )

    def switch(self, version: str) -> None:
        switch_live(self.con, self.corpus_id, self.backend.corpus, version)

    def previous_version(self, version: str | None) -> str | None:
        return lineage.previous_version(self.backend._parents(), version)

    def cleanup(self, keep: int) -> list[str]:
        """Delete complete versions beyond the newest ``keep`` (never the live one), then the
        revisions and passages no remaining version uses."""
        live = self.backend.live_version()
        complete = sorted(self.backend._parents())
        doomed = [v for v in complete[: max(0, len(complete) - keep)] if v != live]
        with self.con.transaction():
            if doomed:
                self.con.execute(
                    "DELETE FROM versions WHERE corpus_id = %s AND version = ANY(%s)",
                    (self.corpus_id, doomed),
                )
            collect_garbage(self.con, self.corpus_id)
        return doomed


def _report(data: Any) -> ReindexReport:
    return ReindexReport.from_json(json.loads(data) if isinstance(data, str) else data)

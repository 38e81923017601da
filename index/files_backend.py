"""The embedded backend behind ``index.backend.IndexBackend``: one index folder of version
folders (SQLite + FAISS), ``CURRENT`` naming the live one, a file lock for reindexing, the last
report as JSON and answer records in a SQLite file. It wraps ``IndexLayout`` and
``IndexVersion``; how a version folder is built stays in ``index.build``."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index.answer_records import KEEP_ANSWERS_DAYS, SqliteAnswerRecords
from index.backend import VersionMeta, VersionUnavailable
from index.build import REPORT_FILE
from index.manifest import ManifestError, write_json_atomic
from index.models import ReindexReport
from index.search import IndexVersion, version_meta
from index.versions import IndexLayout

log = logging.getLogger(__name__)

LAST_REPORT = "last_report.json"
ANSWERS_FILE = "answers.sqlite3"
MAX_REPORT_BYTES = 5 * 1024 * 1024


class FileBackend:
    """One index folder."""

    def __init__(
        self,
        root: Path,
        *,
        verify_checksums: bool = True,
        answers_file: Path | None = None,
        layout: IndexLayout | None = None,
    ) -> None:
        self.root = root
        self.layout = layout or IndexLayout(root)
        self.verify_checksums = verify_checksums
        self.answers_file = answers_file or root.parent / ANSWERS_FILE

    def __repr__(self) -> str:
        return f"FileBackend({str(self.root)!r})"

    def describe(self) -> str:
        return str(self.root)

    # ------------------------------------------------------------------ versions

    def live_version(self) -> str | None:
        return self.layout.live_version()

    def live_stamp(self) -> tuple[int, int] | None:
        return self.layout.current_stamp()

    def live_problem(self) -> str | None:
        return self.layout.current_problem()

    def open_version(self, version: str) -> IndexVersion:
        try:
            return IndexVersion(self.layout.version_dir(version), verify_checksums=self.verify_checksums)
        except ManifestError as exc:
            raise VersionUnavailable(str(exc)) from exc
        except (OSError, RuntimeError, sqlite3.Error) as exc:
            raise VersionUnavailable(f"{version}: {exc}") from exc

    def fallbacks(self, version: str) -> list[str]:
        return self.layout.fallbacks(version)

    def versions(self) -> list[VersionMeta]:
        """Complete versions, oldest first."""
        return [version_meta(v.manifest) for v in self.layout.versions() if v.manifest is not None]

    # ------------------------------------------------------------------ the reindex lock

    def reindex_running(self) -> bool:
        return self.layout.reindex_running()

    def lock_holder(self) -> dict[str, str]:
        return self.layout.lock_holder()

    @contextmanager
    def writer(self, who: str = "") -> Iterator[FileWriter]:
        """Hold the folder's reindex lock (any process on this machine) or raise ``ReindexBusyError``."""
        with self.layout.reindex_lock(who):
            yield FileWriter(self.layout)

    # ------------------------------------------------------------------ reports, answers

    def save_report(self, report: ReindexReport) -> None:
        self.layout.ensure()
        write_json_atomic(self.root / LAST_REPORT, report.to_json())

    def last_report(self, live: str | None = None) -> ReindexReport | None:
        """The latest reindex report; when it is not about the ``live`` version (the process was
        killed between publishing and saving it), the live version's own build report."""
        last = read_report(self.root / LAST_REPORT)
        if live is None or (last is not None and last.version == live):
            return last
        own = read_report(self.layout.version_dir(live) / REPORT_FILE)
        return own if own is not None else last

    def answer_records(self, keep_days: int = KEEP_ANSWERS_DAYS) -> SqliteAnswerRecords:
        return SqliteAnswerRecords(self.answers_file, keep_days)


class FileWriter:
    """What only the holder of the folder's reindex lock may do."""

    def __init__(self, layout: IndexLayout) -> None:
        self.layout = layout

    def clean_abandoned(self) -> list[str]:
        return self.layout.clean_partials()

    def switch(self, version: str) -> None:
        self.layout.switch(version)

    def previous_version(self, version: str | None) -> str | None:
        return self.layout.previous_version(version)

    def cleanup(self, keep: int) -> list[str]:
        return self.layout.cleanup(keep)


def read_report(path: Path) -> ReindexReport | None:
    """A saved report, or None when it is missing, unreadable or implausibly large."""
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            log.warning("%s is too large to read; ignored", path)
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return ReindexReport.from_json(data)
    except (OSError, ValueError, TypeError, AttributeError):
        return None

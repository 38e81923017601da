"""The answering service every front end talks to: ask, reindex, roll back, status.

It holds the live index version and moves to a new one when the live version changes (a
reindex in this process or in another one, on this machine or, with PostgreSQL, any other),
without a restart. The index lives in a folder (``index.files_backend``) or, with a database
URL, in PostgreSQL (``index.pg``); both behind ``index.backend``. It knows nothing about Discord.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

# Re-exported: front ends catch it from here.
from index.backend import IndexUnavailableError as IndexUnavailableError
from index.backend import VersionMeta, VersionUnavailable, outage_errors
from index.build import BuildOptions, Progress, reindex, reindex_into, rollback, signature
from index.confidence import Calibration, load_calibration
from index.corpus import read_bytes
from index.drift import corpus_drift
from index.embedder import Embedder
from index.files_backend import LAST_REPORT as LAST_REPORT
from index.files_backend import FileBackend
from index.manifest import write_text_atomic
from index.models import Answer, BriefingMeta, Passage, ReindexReport
from index.parsing import BriefingError
from index.search import LOCAL_USER, Query, Searcher, SearchOptions, Viewer
from index.versions import IndexLayout, ReindexBusyError, utc_now

if TYPE_CHECKING:
    from index.backend import AnswerRecords
    from index.pg.backend import PgBackend

    Backend = FileBackend | PgBackend
from index.whatsnew import DIGEST_BRIEFINGS, Digest, build_digest, is_whats_new

log = logging.getLogger(__name__)

T = TypeVar("T")

CHECKS_FILE = "check_questions.jsonl"
CHECKS_MAX_BYTES = 1024 * 1024
MAX_CHECKS = 200  # each costs two searches per reindex


class NoIndexError(Exception):
    """There is no usable index yet: run a reindex first."""


@dataclass(frozen=True)
class ServiceConfig:
    corpus_dir: Path
    index_dir: Path
    build: BuildOptions = field(default_factory=BuildOptions)
    search: SearchOptions = field(default_factory=SearchOptions)
    verify_checksums: bool = True
    checks_file: Path | None = None  # question -> expected briefing; default: corpus/check_questions.jsonl
    # PostgreSQL instead of the index folder (which then keeps only what a reindex remembers
    # locally); ``corpus_key`` names this corpus there (one per server with a corpus each).
    database_url: str | None = field(default=None, repr=False)
    corpus_key: str = "default"
    answers_file: Path | None = None  # the file backend's answer records; default: beside the index folder


@dataclass(frozen=True)
class KeptVersion:
    """An index version on disk that a rollback can restore."""

    version: str
    built_at: str
    briefings: int
    passages: int
    live: bool


@dataclass
class Status:
    version: str | None
    model: str | None
    dim: int | None
    briefings: int
    passages: int
    built_at: str | None
    chunker: str | None
    faiss_version: str | None  # the file backend's; ``engine`` names either
    corpus_dir: str
    index_dir: str
    reindex_running: bool
    reindex_holder: dict[str, str]
    last_report: ReindexReport | None
    problems: list[str]
    versions: list[str]
    outdated: str | None = None  # why this briefbot will rebuild the live version, if it will
    engine: str | None = None  # "faiss 1.x" or "postgresql 18.x, pgvector 0.8.x"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "model": self.model,
            "dim": self.dim,
            "briefings": self.briefings,
            "passages": self.passages,
            "built_at": self.built_at,
            "chunker": self.chunker,
            "faiss_version": self.faiss_version,
            "corpus_dir": self.corpus_dir,
            "index_dir": self.index_dir,
            "reindex_running": self.reindex_running,
            "reindex_holder": self.reindex_holder,
            "last_report": self.last_report.to_json() if self.last_report else None,
            "problems": self.problems,
            "versions": self.versions,
            "outdated": self.outdated,
            "engine": self.engine,
        }


class BriefingService:
    """Questions in, answers out, over the live version of one corpus's index."""

    def __init__(
        self,
        config: ServiceConfig,
        embedder: Embedder,
        calibration: Calibration | None = None,
        today: Callable[[], date] = date.today,
        *,
        backend: Backend | None = None,
    ) -> None:
        self.config = config
        self.embedder = embedder
        self.calibration = calibration or load_calibration()
        # The index folder: the file backend's versions, or (PostgreSQL) what a reindex
        # remembers locally (files that could not be read).
        self.layout = IndexLayout(config.index_dir)
        if backend is None and not config.database_url:
            backend = FileBackend(
                config.index_dir,
                verify_checksums=config.verify_checksums,
                answers_file=config.answers_file,
                layout=self.layout,
            )
        self._backend = backend  # PostgreSQL: connected on first use (in a thread, never at import)
        self._backend_lock = threading.Lock()
        self._today = today
        self._searcher: Searcher | None = None
        self._stamp: object = None
        self._load_lock = threading.Lock()
        self._reindex_lock = threading.Lock()
        self.problems: list[str] = []

    # ------------------------------------------------------------------ the backend

    @property
    def backend(self) -> Backend:
        """Where the index lives; raises ``IndexUnavailableError`` when its database cannot be reached."""
        if self._backend is None:
            with self._backend_lock:
                if self._backend is None:
                    self._backend = _open_database_backend(self.config)
        return self._backend

    @contextmanager
    def _available(self) -> Iterator[None]:
        """Turn a lost database connection into ``IndexUnavailableError`` (said in one line)."""
        try:
            yield
        except outage_errors() as exc:
            log.error("index database unavailable: %s", " ".join(str(exc).split()))
            raise IndexUnavailableError(
                f"the index database cannot be reached ({type(exc).__name__})"
            ) from exc

    @property
    def answers_file(self) -> Path | None:
        """The file answer records are kept in, or None when they are in the database."""
        return self._backend.answers_file if isinstance(self._backend, FileBackend) else None

    def answer_records(self, keep_days: int = 90) -> AnswerRecords:
        """Answer records beside this corpus's index (shared by every process on a database)."""
        with self._available():
            return self.backend.answer_records(keep_days)

    def lock_holder(self) -> dict[str, str]:
        with self._available():
            return self.backend.lock_holder()

    # ------------------------------------------------------------------ live version

    def searcher(self) -> Searcher:
        """The searcher over the live version, reloaded if another version went live."""
        with self._available():
            backend = self.backend
            stamp = backend.live_stamp()
            current = self._searcher
            if current is not None and stamp == self._stamp:
                return current
            with self._load_lock:
                stamp = backend.live_stamp()
                if self._searcher is not None and stamp == self._stamp:
                    return self._searcher
                self._searcher = self._load()
                self._stamp = stamp
                return self._searcher

    def has_index(self) -> bool:
        try:
            self.searcher()
        except NoIndexError:
            return False
        return True

    def _load(self) -> Searcher:
        backend = self.backend
        wanted = backend.live_version()
        if wanted is None:
            raise NoIndexError("no index yet: run a reindex first")
        tried: list[str] = []
        damaged = backend.live_problem()
        if damaged:
            # CURRENT is missing or garbled: serve the newest complete version until a reindex
            # (`briefbot index`) writes CURRENT again.
            tried.append(f"{damaged}; serving the newest complete version, and a reindex repairs it")
            log.error("%s; serving %s", damaged, wanted)
        for version in [wanted, *backend.fallbacks(wanted)]:
            try:
                loaded = backend.open_version(version)
            except VersionUnavailable as exc:
                tried.append(str(exc))
                log.error("index version %s unusable: %s", version, exc)
                continue
            if version != wanted:
                self.problems = [*tried, f"serving the previous version {version} instead of {wanted}"]
                log.error("serving fallback index version %s", version)
            else:
                self.problems = tried
            if self._searcher is not None and self._searcher.index.version == loaded.version:
                loaded.close()
                return self._searcher
            return Searcher(loaded, self.embedder, self.calibration, self.config.search)
        self.problems = tried
        raise NoIndexError("no usable index version: " + "; ".join(tried))

    def _using_searcher(self, fn: Callable[[Searcher], T]) -> T:
        """Run ``fn`` on the live searcher; if its files turn out damaged on disk (in place, with
        ``CURRENT`` unchanged), reload, which checks them and falls back, and try once more."""
        searcher = self.searcher()
        with self._available():
            try:
                return fn(searcher)
            except (sqlite3.DatabaseError, OSError, VersionUnavailable) as exc:
                # (A version removed by a cleanup elsewhere while open is reloaded the same way.)
                log.error(
                    "index version %s failed while in use (%s); reloading it", searcher.index.version, exc
                )
                with self._load_lock:
                    if self._searcher is searcher:
                        self._searcher, self._stamp = None, None
            return fn(self.searcher())

    # ------------------------------------------------------------------ asking

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        viewer: Viewer = LOCAL_USER,
        briefing_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> Answer:
        """Answer ``question`` with quotes the viewer may see (CPU work: call off the event loop)."""
        query = Query(
            question=question,
            k=k or self.config.search.k,
            viewer=viewer,
            briefing_id=briefing_id,
            since=since,
            until=until,
            today=self._today(),
        )
        return self._using_searcher(lambda s: s.answer(query))

    def whats_new(self, question: str, *, viewer: Viewer = LOCAL_USER, n: int | None = None) -> Digest | None:
        """A digest of the newest briefings when ``question`` asks what is new without naming a
        topic ("what's new this week?"); None for any other question."""
        intent = is_whats_new(question, self._today())
        if intent is None:
            return None

        def digest(s: Searcher) -> Digest:
            metas = [m for m in s.index.briefings() if viewer.may_see(m.audience)]
            return build_digest(
                question, intent, metas, s.index.briefing_passages, s.index.version, n or DIGEST_BRIEFINGS
            )

        return self._using_searcher(digest)

    def briefing_passages(self, briefing_id: str) -> list[Passage]:
        """Every passage of one briefing, in order (no audience check: the caller's job)."""
        return self._using_searcher(lambda s: s.index.briefing_passages(briefing_id))

    def passage(self, passage_id: str) -> tuple[Passage, BriefingMeta] | None:
        return self._using_searcher(lambda s: s.passage(passage_id))

    def context(self, passage_id: str, before: int = 1, after: int = 1) -> list[Passage]:
        return self._using_searcher(lambda s: s.context(passage_id, before, after))

    def briefings(self) -> list[BriefingMeta]:
        return self.searcher().index.briefings()

    def meta(self, briefing_id: str) -> BriefingMeta | None:
        return self.searcher().index.briefing(briefing_id)

    # ------------------------------------------------------------------ reindexing

    def reindex_running(self) -> bool:
        if self._reindex_lock.locked():
            return True
        with self._available():
            return self.backend.reindex_running()

    def reindex(
        self,
        *,
        full: bool = False,
        progress: Progress | None = None,
        who: str = "",
        allow_shrink: bool = False,
        deliberate: Collection[str] = (),
        confirmed_loss: int | None = None,
    ) -> ReindexReport:
        """Bring the index in line with the corpus; the new version goes live when complete
        (nothing is published when the report says ``refused``)."""
        if not self._reindex_lock.acquire(blocking=False):
            raise ReindexBusyError(self.lock_holder() or {"who": "this process"})
        try:
            with self._available():
                return self._reindex(full, progress, who, allow_shrink, deliberate, confirmed_loss)
        finally:
            self._reindex_lock.release()

    def _reindex(
        self,
        full: bool,
        progress: Progress | None,
        who: str,
        allow_shrink: bool,
        deliberate: Collection[str],
        confirmed_loss: int | None,
    ) -> ReindexReport:
        before = self._searcher_or_none()
        backend = self.backend
        asked: dict[str, Any] = {
            "full": full,
            "progress": progress,
            "who": who,
            "allow_shrink": allow_shrink,
            "deliberate": deliberate,
            "confirmed_loss": confirmed_loss,
        }
        corpus, build = self.config.corpus_dir, self.config.build
        if isinstance(backend, FileBackend):
            report = reindex(corpus, backend.layout, self.embedder, build, **asked)
        else:
            report = reindex_into(
                corpus, backend, self.embedder, build, memo_dir=self.config.index_dir, **asked
            )
        if report.changed and before is not None:
            report.check_changes = self._run_checks(before, self.searcher())
        self._save_report(report)
        return report

    def rollback(self, who: str = "", to: str | None = None) -> ReindexReport:
        """Make the previous version (or the kept version ``to``) live again; the report warns
        when the corpus folder no longer matches the restored index."""
        if not self._reindex_lock.acquire(blocking=False):
            raise ReindexBusyError(self.lock_holder() or {"who": "this process"})
        try:
            with self._available():
                return self._rollback(who, to)
        finally:
            self._reindex_lock.release()

    def _rollback(self, who: str, to: str | None) -> ReindexReport:
        before = self._searcher_or_none()
        old, new = rollback(self.backend, who, to)
        after = self.searcher()
        b, p = after.index.counts()
        report = ReindexReport(
            version=new,
            previous_version=old,
            briefings_total=b,
            passages_total=p,
            rolled_back=True,
        )
        report.finished_at = utc_now()
        drift = corpus_drift(self.config.corpus_dir, after.index.briefing_hashes(), self.config.build)
        if drift.any:
            report.warnings.append(drift.describe())
        report.check_changes = self._run_checks(before, after)
        self._save_report(report)
        return report

    def ensure_index(self, progress: Progress | None = None) -> ReindexReport | None:
        """Build the index if there is none, or rebuild it when an older version of briefbot
        (or another model) built it; returns the report when one was built.

        At start, also removes what an interrupted reindex left half-built."""
        if self.has_index():
            self.clean_abandoned()
            if self.outdated() is None:
                return None
            return self.reindex(progress=progress, who="upgrade")
        return self.reindex(progress=progress, who="first run")

    def outdated(self) -> str | None:
        """Why the live version must be rebuilt before this version of briefbot serves it, or None."""
        meta = self.searcher().index.meta
        if meta.model != self.embedder.name or meta.dim != self.embedder.dim:
            return f"it was built with another model ({meta.model})"
        if meta.chunker != signature(self.config.build, self.embedder):
            return "it was built by another version of briefbot (other passage rules)"
        return None

    def kept_versions(self) -> list[KeptVersion]:
        """Every complete version kept, newest first, with when it was built and its size."""
        with self._available():
            backend = self.backend
            live = backend.live_version()
            out = [
                KeptVersion(v.version, v.created_at, v.briefings, v.passages, v.version == live)
                for v in backend.versions()
            ]
        return sorted(out, key=lambda k: k.version, reverse=True)

    def clean_abandoned(self) -> list[str]:
        """Remove half-built (or half-deleted) versions left by a reindex that was killed;
        nothing while a reindex runs, here or in another process (it may be building one)."""
        if not self._reindex_lock.acquire(blocking=False):
            return []
        try:
            with self._available(), self.backend.writer("cleanup at start") as writer:
                removed = writer.clean_abandoned()
        except (ReindexBusyError, OSError, IndexUnavailableError):
            return []
        finally:
            self._reindex_lock.release()
        if removed:
            log.warning("removed what an interrupted reindex left: %s", ", ".join(removed))
        return removed

    def _searcher_or_none(self) -> Searcher | None:
        try:
            return self.searcher()
        except NoIndexError:
            return None

    def _save_report(self, report: ReindexReport) -> None:
        """Keep the report for ``status``; failing to (a full disk) loses nothing else."""
        try:
            with self._available():
                self.backend.save_report(report)
        except (OSError, IndexUnavailableError):
            log.warning("could not save the reindex report", exc_info=True)

    def last_report(self, live: str | None = None) -> ReindexReport | None:
        """The latest reindex report; when it is not about the ``live`` version (the process was
        killed between publishing and saving it), the live version's own build report."""
        with self._available():
            return self.backend.last_report(live)

    @property
    def checks_path(self) -> Path:
        return self.config.checks_file or self.config.corpus_dir / CHECKS_FILE

    def add_check(self, question: str, briefing_id: str, passage_id: str | None = None) -> bool:
        """Save a check question (its right briefing, and passage): from then on a reindex
        report says when its top passage changes. False when it is there already."""
        question = " ".join(question.split())
        if any(c["question"] == question for c in self._checks()):
            return False
        path = self.checks_path
        try:
            text = read_bytes(path, CHECKS_MAX_BYTES).decode("utf-8", errors="replace")
        except BriefingError:
            text = ""  # missing (or not a plain file: it is replaced by one)
        if text and not text.endswith("\n"):
            text += "\n"
        row = {"question": question, "briefing_id": briefing_id}
        if passage_id:
            row["passage_id"] = passage_id
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text + json.dumps(row, ensure_ascii=False) + "\n")
        return True

    def _checks(self) -> list[dict[str, str]]:
        """The saved check questions (at most ``MAX_CHECKS``). The default file lives in the
        corpus folder, which others may write to: it is read like a briefing (a regular file,
        not through a link, of bounded size)."""
        configured = self.config.checks_file
        path = self.checks_path
        out: list[dict[str, str]] = []
        try:
            if configured is not None:
                data = configured.read_bytes()[:CHECKS_MAX_BYTES]
            else:
                data = read_bytes(path, CHECKS_MAX_BYTES)
        except (OSError, BriefingError) as exc:
            if not isinstance(exc, FileNotFoundError) and "No such file" not in str(exc):
                log.warning("check questions in %s not read: %s", path, exc)
            return out
        for line in data.decode("utf-8", errors="replace").splitlines()[:MAX_CHECKS]:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and row.get("question"):
                out.append(
                    {"question": str(row["question"]), "briefing_id": str(row.get("briefing_id") or "")}
                )
        return out

    def _run_checks(self, before: Searcher | None, after: Searcher) -> list[dict[str, Any]]:
        """Saved check questions whose top passage changed between two versions."""
        changes: list[dict[str, Any]] = []
        for check in self._checks():
            tops: list[Any] = []
            for s in (before, after):
                if s is None:
                    tops.append(None)
                    continue
                ans = s.answer(Query(question=check["question"], k=1, today=self._today()))
                tops.append(ans.quotes[0] if ans.quotes and not ans.abstained else None)
            old, new = tops
            old_id = old.passage_id if old else None
            new_id = new.passage_id if new else None
            if old_id == new_id:
                continue
            changes.append(
                {
                    "question": check["question"],
                    "expected_briefing": check["briefing_id"] or None,
                    "before": _top_label(old),
                    "after": _top_label(new),
                    "ok_before": bool(old and old.briefing_id == check["briefing_id"]),
                    "ok_after": bool(new and new.briefing_id == check["briefing_id"]),
                }
            )
        return changes

    # ------------------------------------------------------------------ status

    def status(self) -> Status:
        """What is live, what is kept, what the last reindex did; with the index database out of
        reach, says so (and what it can without it) instead of failing."""
        meta: VersionMeta | None = None
        version: str | None = None
        outdated: str | None = None
        where = str(self.config.index_dir)
        try:
            where = self.backend.describe()
            s = self.searcher()
            meta = s.index.meta
            version = s.index.version
            outdated = self.outdated()
        except NoIndexError as exc:
            if not self.problems:
                self.problems = [str(exc)]
        except IndexUnavailableError as exc:
            return self._status_unavailable(str(exc), where)
        try:
            running = self.reindex_running()
            with self._available():
                backend = self.backend
                # A killed reindex leaves its holder file behind: only a held lock has a holder.
                holder = backend.lock_holder() if running else {}
                last = backend.last_report(version)
                kept = [v.version for v in backend.versions()]
        except IndexUnavailableError as exc:
            return self._status_unavailable(str(exc), where)
        return Status(
            version=version,
            model=meta.model if meta else self.embedder.name,
            dim=meta.dim if meta else None,
            briefings=meta.briefings if meta else 0,
            passages=meta.passages if meta else 0,
            built_at=meta.created_at if meta else None,
            chunker=meta.chunker if meta else None,
            faiss_version=_faiss_version(meta),
            corpus_dir=str(self.config.corpus_dir),
            index_dir=where,
            reindex_running=running,
            reindex_holder=holder,
            last_report=last,
            problems=list(self.problems),
            versions=kept,
            outdated=outdated,
            engine=meta.engine if meta else None,
        )

    def _status_unavailable(self, why: str, where: str) -> Status:
        return Status(
            version=None,
            model=self.embedder.name,
            dim=None,
            briefings=0,
            passages=0,
            built_at=None,
            chunker=None,
            faiss_version=None,
            corpus_dir=str(self.config.corpus_dir),
            index_dir=where,
            reindex_running=self._reindex_lock.locked(),
            reindex_holder={},
            last_report=None,
            problems=[why],
            versions=[],
        )


def _faiss_version(meta: VersionMeta | None) -> str | None:
    if meta is None or not meta.engine.startswith("faiss "):
        return None
    return meta.engine.removeprefix("faiss ")


def _open_database_backend(config: ServiceConfig) -> Backend:
    """The corpus ``config.corpus_key`` in the database at ``config.database_url`` (this process
    shares one pool per database); ``IndexUnavailableError`` when it cannot be reached."""
    try:
        from index.pg.backend import PgBackend
        from index.pg.database import shared_database
    except ImportError as exc:
        raise IndexUnavailableError(
            f"BRIEFBOT_DATABASE_URL is set but the PostgreSQL driver is not installed ({exc.name}): "
            "pip install 'briefbot[postgres]'"
        ) from None
    assert config.database_url
    db = shared_database(config.database_url)
    try:
        return PgBackend(db, config.corpus_key)
    except outage_errors() as exc:
        raise IndexUnavailableError(f"the index database {db.describe()} cannot be reached ({exc})") from exc


def _top_label(q: Any) -> str | None:
    if q is None:
        return None
    a = q.attribution
    return f"{a.briefing_id} ¶{a.paragraph_label}"

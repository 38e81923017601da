"""The answering service every front end talks to: ask, reindex, roll back, status.

It holds the live index version and moves to a new one when ``CURRENT`` changes (a reindex
in this process or in another one), without a restart. It knows nothing about Discord.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from index.build import REPORT_FILE, BuildOptions, Progress, reindex, rollback, signature
from index.confidence import Calibration, load_calibration
from index.corpus import read_bytes
from index.drift import corpus_drift
from index.embedder import Embedder
from index.manifest import Manifest, ManifestError, write_json_atomic, write_text_atomic
from index.models import Answer, BriefingMeta, Passage, ReindexReport
from index.parsing import BriefingError
from index.search import LOCAL_USER, IndexVersion, Query, Searcher, SearchOptions, Viewer
from index.versions import IndexLayout, ReindexBusyError, utc_now
from index.whatsnew import DIGEST_BRIEFINGS, Digest, build_digest, is_whats_new

log = logging.getLogger(__name__)

T = TypeVar("T")

LAST_REPORT = "last_report.json"
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
    faiss_version: str | None
    corpus_dir: str
    index_dir: str
    reindex_running: bool
    reindex_holder: dict[str, str]
    last_report: ReindexReport | None
    problems: list[str]
    versions: list[str]
    outdated: str | None = None  # why this briefbot will rebuild the live version, if it will

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
        }


class BriefingService:
    """Questions in, answers out, over the live version of one index folder."""

    def __init__(
        self,
        config: ServiceConfig,
        embedder: Embedder,
        calibration: Calibration | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.config = config
        self.embedder = embedder
        self.calibration = calibration or load_calibration()
        self.layout = IndexLayout(config.index_dir)
        self._today = today
        self._searcher: Searcher | None = None
        self._stamp: tuple[int, int] | None = None
        self._load_lock = threading.Lock()
        self._reindex_lock = threading.Lock()
        self.problems: list[str] = []

    # ------------------------------------------------------------------ live version

    def searcher(self) -> Searcher:
        """The searcher over the live version, reloaded if another version went live."""
        stamp = self.layout.current_stamp()
        current = self._searcher
        if current is not None and stamp == self._stamp:
            return current
        with self._load_lock:
            stamp = self.layout.current_stamp()
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
        wanted = self.layout.live_version()
        if wanted is None:
            raise NoIndexError("no index yet: run a reindex first")
        tried: list[str] = []
        damaged = self.layout.current_problem()
        if damaged:
            # CURRENT is missing or garbled: serve the newest complete version until a reindex
            # (`briefbot index`) writes CURRENT again.
            tried.append(f"{damaged}; serving the newest complete version, and a reindex repairs it")
            log.error("%s; serving %s", damaged, wanted)
        for version in [wanted, *self.layout.fallbacks(wanted)]:
            try:
                loaded = IndexVersion(
                    self.layout.version_dir(version), verify_checksums=self.config.verify_checksums
                )
            except (ManifestError, OSError, RuntimeError, sqlite3.Error) as exc:
                tried.append(str(exc) if isinstance(exc, ManifestError) else f"{version}: {exc}")
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
        try:
            return fn(searcher)
        except (sqlite3.DatabaseError, OSError) as exc:
            log.error("index version %s failed while in use (%s); reloading it", searcher.index.version, exc)
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
        s = self.searcher()
        metas = [m for m in s.index.briefings() if viewer.may_see(m.audience)]
        return build_digest(
            question, intent, metas, s.index.store.briefing_passages, s.index.version, n or DIGEST_BRIEFINGS
        )

    def briefing_passages(self, briefing_id: str) -> list[Passage]:
        """Every passage of one briefing, in order (no audience check: the caller's job)."""
        return self.searcher().index.store.briefing_passages(briefing_id)

    def passage(self, passage_id: str) -> tuple[Passage, BriefingMeta] | None:
        return self._using_searcher(lambda s: s.passage(passage_id))

    def context(self, passage_id: str, before: int = 1, after: int = 1) -> list[Passage]:
        return self._using_searcher(lambda s: s.context(passage_id, before, after))

    def briefings(self) -> list[BriefingMeta]:
        return self.searcher().index.briefings()

    def meta(self, briefing_id: str) -> BriefingMeta | None:
        return self.searcher().index.meta(briefing_id)

    # ------------------------------------------------------------------ reindexing

    def reindex_running(self) -> bool:
        return self._reindex_lock.locked() or self.layout.reindex_running()

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
            raise ReindexBusyError(self.layout.lock_holder() or {"who": "this process"})
        try:
            before = self._searcher_or_none()
            report = reindex(
                self.config.corpus_dir,
                self.layout,
                self.embedder,
                self.config.build,
                full=full,
                progress=progress,
                who=who,
                allow_shrink=allow_shrink,
                deliberate=deliberate,
                confirmed_loss=confirmed_loss,
            )
            if report.changed and before is not None:
                report.check_changes = self._run_checks(before, self.searcher())
            self._save_report(report)
            return report
        finally:
            self._reindex_lock.release()

    def rollback(self, who: str = "", to: str | None = None) -> ReindexReport:
        """Make the previous version (or the kept version ``to``) live again; the report warns
        when the corpus folder no longer matches the restored index."""
        if not self._reindex_lock.acquire(blocking=False):
            raise ReindexBusyError(self.layout.lock_holder() or {"who": "this process"})
        try:
            before = self._searcher_or_none()
            old, new = rollback(self.layout, who, to)
            after = self.searcher()
            b, p = after.index.store.counts()
            report = ReindexReport(
                version=new,
                previous_version=old,
                briefings_total=b,
                passages_total=p,
                rolled_back=True,
            )
            report.finished_at = utc_now()
            drift = corpus_drift(
                self.config.corpus_dir, after.index.store.briefing_hashes(), self.config.build
            )
            if drift.any:
                report.warnings.append(drift.describe())
            report.check_changes = self._run_checks(before, after)
            self._save_report(report)
            return report
        finally:
            self._reindex_lock.release()

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
        manifest = self.searcher().index.manifest
        if manifest.model != self.embedder.name or manifest.dim != self.embedder.dim:
            return f"it was built with another model ({manifest.model})"
        if manifest.chunker != signature(self.config.build, self.embedder):
            return "it was built by another version of briefbot (other passage rules)"
        return None

    def kept_versions(self) -> list[KeptVersion]:
        """Every complete version on disk, newest first, with when it was built and its size."""
        live = self.layout.current_version()
        out = [
            KeptVersion(
                v.version, v.manifest.created_at, v.manifest.briefings, v.manifest.passages, v.version == live
            )
            for v in self.layout.versions()
            if v.manifest is not None
        ]
        return sorted(out, key=lambda k: k.version, reverse=True)

    def clean_abandoned(self) -> list[str]:
        """Remove half-built (or half-deleted) versions left by a reindex that was killed;
        nothing while a reindex runs, here or in another process (it may be building one)."""
        if not self._reindex_lock.acquire(blocking=False):
            return []
        try:
            with self.layout.reindex_lock("cleanup at start"):
                removed = self.layout.clean_partials()
        except (ReindexBusyError, OSError):
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
            self.layout.ensure()
            write_json_atomic(self.config.index_dir / LAST_REPORT, report.to_json())
        except OSError:
            log.warning("could not save the reindex report", exc_info=True)

    def last_report(self, live: str | None = None) -> ReindexReport | None:
        """The latest reindex report; when it is not about the ``live`` version (the process was
        killed between publishing and saving it), the live version's own build report."""
        last = _read_report(self.config.index_dir / LAST_REPORT)
        if live is None or (last is not None and last.version == live):
            return last
        own = _read_report(self.layout.version_dir(live) / REPORT_FILE)
        return own if own is not None else last

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
        manifest: Manifest | None = None
        briefings = passages = 0
        version: str | None = None
        outdated: str | None = None
        try:
            s = self.searcher()
            manifest = s.index.manifest
            version = s.index.version
            briefings, passages = manifest.briefings, manifest.passages
            outdated = self.outdated()
        except NoIndexError as exc:
            if not self.problems:
                self.problems = [str(exc)]
        running = self.reindex_running()
        return Status(
            version=version,
            model=manifest.model if manifest else self.embedder.name,
            dim=manifest.dim if manifest else None,
            briefings=briefings,
            passages=passages,
            built_at=manifest.created_at if manifest else None,
            chunker=manifest.chunker if manifest else None,
            faiss_version=manifest.faiss_version if manifest else None,
            corpus_dir=str(self.config.corpus_dir),
            index_dir=str(self.config.index_dir),
            reindex_running=running,
            # A killed reindex leaves its holder file behind: only a held lock has a holder.
            reindex_holder=self.layout.lock_holder() if running else {},
            last_report=self.last_report(version),
            problems=list(self.problems),
            versions=[v.version for v in self.layout.versions() if v.manifest is not None],
            outdated=outdated,
        )


MAX_REPORT_BYTES = 5 * 1024 * 1024


def _read_report(path: Path) -> ReindexReport | None:
    """A saved report, or None when it is missing, unreadable or implausibly large."""
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            log.warning("%s is too large to read; ignored", path)
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return ReindexReport.from_json(data)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def _top_label(q: Any) -> str | None:
    if q is None:
        return None
    a = q.attribution
    return f"{a.briefing_id} ¶{a.paragraph_label}"

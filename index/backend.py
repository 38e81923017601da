"""The small interface between the answering service and where an index lives.

Two implementations: the embedded default (version folders with SQLite + FAISS, ``versions.py``
and ``store.py``) and PostgreSQL + pgvector (``index.pg``), chosen by ``BRIEFBOT_DATABASE_URL``.
``BriefingService``, ``reindex`` and ``Searcher`` keep all the logic (scanning and parsing,
deciding what to re-embed, fusing and reranking, abstention); a backend only stores and finds.

Phase 2 (issue 13): the answering service, the searcher, status, rollback, versions, reports
and answer records run on either backend through this interface (``index.files_backend`` wraps
the version folders). A PostgreSQL reindex builds through ``VersionBuilder``
(``index.build.reindex_into``); the file backend's reindex still writes its version folder
itself (``index.build.reindex``), sharing the scan, parse, rebuild and refusal decisions.

``IndexBackend`` — one corpus's index (a folder, or one corpus in a database):
    ``live_version()`` / ``live_stamp()``  the live version id, and a cheap value that changes
        whenever another version goes live (any process, any machine): the service compares it
        before each question and reopens when it moved.
    ``open_version(id) -> VersionReader``  a sealed version, for reading; raises
        ``VersionUnavailable`` when it is missing or damaged, and the service tries
        ``fallbacks(id)`` (its parents, then older, then newer versions).
    ``live_problem()``  why the live pointer is damaged (the file backend's ``CURRENT``), or None;
    ``versions()``, ``reindex_running()``, ``lock_holder()``, ``last_report(live)`` (the latest
        report, or the live version's own when the latest is about another one),
        ``save_report(report)``, ``answer_records(keep_days)`` (``put(json) -> key``, ``get(key)``,
        ``claim(key, what)`` / ``release``), ``describe()`` (where the index lives, for status).
    ``writer(who) -> ContextManager[IndexWriter]``  the cross-process (for PostgreSQL:
        cross-machine) reindex lock; raises ``ReindexBusyError`` carrying who holds it.

``IndexWriter`` — only exists while the lock is held, so nothing writes without it:
    ``clean_abandoned()``  remove what a killed build left;
    ``begin(base, model, dim, chunker) -> VersionBuilder``  (``VersionWriter``) a new version
        beside the live one, starting as a copy of ``base`` (or empty for a full rebuild);
    ``switch(version)`` (rollback), ``previous_version(version)``, ``cleanup(keep)``.

``VersionBuilder`` — ``remove_briefing(id) -> passages removed``, ``add_briefing(meta, passages,
    embed_hashes, vectors, sentence_vectors)``, ``counts()``, ``seal(report) -> VersionMeta``
    (complete and checked, not live), ``publish()`` (live, in one atomic step), ``abort()``.

``VersionReader`` — one sealed version; its content never changes while it is open:
    ``version``, ``meta`` (``VersionMeta``), ``restricted`` (briefing -> audience, for the
        audience filter), ``briefing(id)``, ``briefings()``, ``briefing_hashes()``, ``counts()``;
    ``reading()``  a context for one answer: every read inside sees one consistent snapshot;
    ``dense_search(qvec, k, where)`` / ``lexical_search(terms, k, field_weights, where)`` ->
        ``[(vid, score)]`` best first, ``where`` a ``PassageFilter`` (dates, briefings in or
        out) applied inside the search, not after it, so filtered questions still get k results;
    ``document_frequencies(terms)`` (for IDF weights), ``fetch(vids) -> (stored, vectors)``
        (passages with their sentence vectors, and the passage vectors, for reranking);
    ``passage_by_id(id)``, ``neighbours(briefing, ordinal, before, after)``,
        ``briefing_passages(id)``, ``iter_passages()``;
    ``reusable_vectors(embed_hashes)``  vectors already computed for the same text and model
        (a reindex embeds only what is new); ``close()``.

Scores keep one meaning on both backends: cosine similarity for dense search, SQLite FTS5's
BM25 (k1 1.2, b 0.75, weighted title / section / body) for lexical search, so fusion weights
and the calibrated confidence carry over unchanged.

What moved where in phase 2 (the call before -> through the interface):
    service: ``layout.current_stamp()`` -> ``live_stamp()``; ``IndexVersion(dir)`` and its
        ``ManifestError | OSError | sqlite3.Error`` -> ``open_version()`` and
        ``VersionUnavailable``; ``layout.reindex_lock`` / ``lock_holder`` / ``clean_partials``
        -> ``writer()`` / ``lock_holder()`` / ``clean_abandoned()``; ``last_report.json`` ->
        ``save_report`` / ``last_report``; status's manifest -> ``VersionMeta`` (``engine``
        beside ``faiss_version``); a lost database connection -> ``IndexUnavailableError``.
    searcher: ``store.vids_where(...)`` lists of allowed vids -> a ``PassageFilter``;
        ``vectors.search`` / ``store.lexical_search`` -> ``dense_search`` / ``lexical_search``;
        ``store.passages`` + ``vectors.get`` -> ``fetch``; ``manifest.passages`` ->
        ``meta.passages``; each answer runs inside ``reading()``.
    rollback: ``layout`` -> ``writer().previous_version`` / ``switch`` and ``open_version``.
    reindex: the scan, parse, rebuild and refusal decisions are shared (``index.build._plan``);
        PostgreSQL builds through ``begin`` / ``add_briefing`` / ``remove_briefing`` / ``seal`` /
        ``publish`` and reuses vectors through ``reusable_vectors()``. Still file-specific: the
        file backend's build of a version folder (``_start_version``, FAISS, ``seal``), which a
        ``VersionBuilder`` over the folder would replace.
    bot: ``AnswerStore`` (SQLite file beside the index) -> ``answer_records()``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np

from index.models import BriefingMeta, Passage, ReindexReport
from index.store import StoredPassage


class IndexUnavailableError(Exception):
    """The index's database cannot be reached (at start, or while serving): nothing is answered
    from it until it is back."""


@functools.cache
def outage_errors() -> tuple[type[Exception], ...]:
    """The errors meaning the database cannot be reached now (none without the postgres extra)."""
    try:
        import psycopg
        import psycopg_pool
    except ImportError:
        return ()
    return (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout)


class VersionUnavailable(Exception):
    """A version that is missing, incomplete or damaged (the service falls back to another)."""


@dataclass(frozen=True)
class PassageFilter:
    """Which passages a search may return: briefings in a date range, by id, minus some.

    With a date bound, undated briefings are out (as in the file backend's SQL)."""

    date_from: date | None = None
    date_to: date | None = None
    briefing_ids: tuple[str, ...] | None = None
    exclude_briefings: tuple[str, ...] = ()

    def admits(self, meta: BriefingMeta) -> bool:
        if self.briefing_ids is not None and meta.briefing_id not in self.briefing_ids:
            return False
        if meta.briefing_id in self.exclude_briefings:
            return False
        if self.date_from is not None and (meta.date is None or meta.date < self.date_from):
            return False
        return not (self.date_to is not None and (meta.date is None or meta.date > self.date_to))


@dataclass(frozen=True)
class VersionMeta:
    """What built a version and what it holds (the file backend's manifest, in short)."""

    version: str
    created_at: str
    model: str
    dim: int
    chunker: str
    briefings: int
    passages: int
    build_seconds: float
    parent: str | None
    engine: str  # e.g. "faiss 1.15.1" or "postgresql 18.6, pgvector 0.8.6"


class VersionReader(Protocol):
    version: str
    meta: VersionMeta
    restricted: dict[str, tuple[str, ...]]

    def briefing(self, briefing_id: str) -> BriefingMeta | None: ...
    def briefings(self) -> list[BriefingMeta]: ...
    def briefing_hashes(self) -> dict[str, tuple[str, str]]: ...
    def counts(self) -> tuple[int, int]: ...
    def reading(self) -> AbstractContextManager[None]: ...
    def dense_search(
        self, qvec: np.ndarray, k: int, where: PassageFilter | None = None
    ) -> list[tuple[int, float]]: ...
    def lexical_search(
        self,
        terms: Sequence[str],
        k: int,
        field_weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        where: PassageFilter | None = None,
    ) -> list[tuple[int, float]]: ...
    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]: ...
    def fetch(self, vids: Sequence[int]) -> tuple[list[StoredPassage], np.ndarray]: ...
    def passage_by_id(self, passage_id: str) -> StoredPassage | None: ...
    def neighbours(
        self, briefing_id: str, ordinal: int, before: int = 1, after: int = 1
    ) -> list[Passage]: ...
    def briefing_passages(self, briefing_id: str) -> list[Passage]: ...
    def iter_passages(self) -> Iterator[StoredPassage]: ...
    def reusable_vectors(
        self, embed_hashes: Iterable[str]
    ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]: ...
    def close(self) -> None: ...


class VersionBuilder(Protocol):
    version: str

    def remove_briefing(self, briefing_id: str) -> int: ...
    def add_briefing(
        self,
        meta: BriefingMeta,
        passages: Sequence[Passage],
        embed_hashes: Sequence[str],
        vectors: np.ndarray,
        sentence_vectors: Sequence[np.ndarray | None],
        indexed_at: str,
    ) -> None: ...
    def counts(self) -> tuple[int, int]: ...
    def seal(self, report: ReindexReport) -> VersionMeta: ...
    def publish(self) -> None: ...
    def abort(self) -> None: ...


class IndexWriter(Protocol):
    def clean_abandoned(self) -> list[str]: ...
    def switch(self, version: str) -> None: ...
    def previous_version(self, version: str | None) -> str | None: ...
    def cleanup(self, keep: int) -> list[str]: ...


class VersionWriter(IndexWriter, Protocol):
    """A writer that builds versions through ``VersionBuilder`` (PostgreSQL; the file backend's
    reindex still writes its version folder itself, in ``index.build``)."""

    def begin(self, base: str | None, *, model: str, dim: int, chunker: str) -> VersionBuilder: ...


class AnswerRecords(Protocol):
    def put(self, record_json: str) -> str: ...
    def get(self, key: str) -> str | None: ...
    def claim(self, key: str, what: str) -> bool: ...
    def release(self, key: str, what: str) -> None: ...


class IndexBackend(Protocol):
    def live_version(self) -> str | None: ...
    def live_stamp(self) -> object: ...
    def live_problem(self) -> str | None: ...
    def open_version(self, version: str) -> VersionReader: ...
    def fallbacks(self, version: str) -> list[str]: ...
    def versions(self) -> list[VersionMeta]: ...
    def reindex_running(self) -> bool: ...
    def lock_holder(self) -> dict[str, str]: ...
    def writer(self, who: str = "") -> AbstractContextManager[IndexWriter]: ...
    def last_report(self, live: str | None = None) -> ReindexReport | None: ...
    def save_report(self, report: ReindexReport) -> None: ...
    def answer_records(self, keep_days: int = 90) -> AnswerRecords: ...
    def describe(self) -> str: ...


class BuildingBackend(IndexBackend, Protocol):
    """A backend whose versions are built through the interface (``index.build.reindex_into``)."""

    def writer(self, who: str = "") -> AbstractContextManager[VersionWriter]: ...

"""PostgreSQL backend, versions: built beside the live one, switched in one transaction, shared
rows, rollback, cleanup, the cross-machine lock, killed builds, several corpora in one database."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from index.backend import VersionUnavailable
from index.build import reindex
from index.models import ReindexReport
from index.pg.backend import PgBackend
from index.pg.database import Database
from index.search import IndexVersion
from index.store import query_terms
from index.versions import IndexLayout, ReindexBusyError
from tests.fakes import FakeEmbedder
from tests.pg_helpers import Parsed, add, build, building, open_db, parse_corpus

REPO = Path(__file__).resolve().parents[1]
CRANE = "2024-09-12-saltmere-harbor-crane-collapse"


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = open_db(pg_url)
    yield database
    database.close()


@pytest.fixture
def backend(db: Database) -> PgBackend:
    return PgBackend(db)


@pytest.fixture
def parsed(corpus: Path) -> Parsed:
    return parse_corpus(corpus, FakeEmbedder())


def _changed(parsed: Parsed, corpus: Path, old: str, new: str) -> Parsed:
    path = corpus / f"{CRANE}.txt"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return [x for x in parse_corpus(corpus, FakeEmbedder()) if x[0].briefing_id == CRANE]


def _rows(db: Database, table: str) -> int:
    with db.connection() as con:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_a_version_being_built_is_invisible_until_published(backend: PgBackend, parsed: Parsed) -> None:
    emb = FakeEmbedder()
    first = build(backend, emb, parsed)
    with building(backend, emb, base=first) as builder:
        builder.remove_briefing(CRANE)
        assert backend.live_version() == first
        with pytest.raises(VersionUnavailable):
            backend.open_version(builder.version)
        assert [v.version for v in backend.versions()] == [first]
    assert backend.live_version() == builder.version
    assert backend.open_version(builder.version).briefing(CRANE) is None
    assert backend.open_version(first).briefing(CRANE) is not None


def test_a_new_version_shares_the_rows_of_unchanged_briefings(
    backend: PgBackend, db: Database, parsed: Parsed, corpus: Path
) -> None:
    emb = FakeEmbedder()
    first = build(backend, emb, parsed)
    before = _rows(db, "passages")
    changed = _changed(parsed, corpus, "Two dock workers", "Three dock workers")
    with building(backend, emb, base=first) as builder:
        for meta, passages in changed:
            add(builder, emb, meta, passages)
    assert _rows(db, "passages") == before + len(changed[0][1])
    old, new = backend.open_version(first), backend.open_version(builder.version)
    assert new.counts() == old.counts()
    assert "Three dock workers" in " ".join(p.text for p in new.briefing_passages(CRANE))
    assert "Two dock workers" in " ".join(p.text for p in old.briefing_passages(CRANE))


def test_an_open_reader_keeps_answering_from_its_version_after_a_switch(
    backend: PgBackend, parsed: Parsed
) -> None:
    emb = FakeEmbedder()
    first = build(backend, emb, parsed)
    reader = backend.open_version(first)
    build(backend, emb, [], base=first)
    assert backend.live_version() != first
    hits = reader.dense_search(emb.encode_query("harbor crane collapse"), 5)
    stored, _ = reader.fetch([v for v, _ in hits])
    assert len(stored) == 5


def test_every_switch_changes_the_live_stamp_rollbacks_too(backend: PgBackend, parsed: Parsed) -> None:
    emb = FakeEmbedder()
    first = build(backend, emb, parsed)
    stamps = [backend.live_stamp()]
    second = build(backend, emb, [], base=first)
    stamps.append(backend.live_stamp())
    with backend.writer("rollback") as writer:
        assert writer.previous_version(second) == first
        writer.switch(first)
    stamps.append(backend.live_stamp())
    assert [s[0] for s in stamps] == [first, second, first]
    assert len(set(stamps)) == 3


def test_a_switch_is_announced_to_listeners(backend: PgBackend, parsed: Parsed, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as listener:
        listener.execute("LISTEN briefbot_live")
        version = build(backend, FakeEmbedder(), parsed)
        notes = list(listener.notifies(timeout=5, stop_after=1))
    assert [json.loads(n.payload) for n in notes] == [{"corpus": "default", "version": version}]


def test_only_a_sealed_version_can_go_live(backend: PgBackend, parsed: Parsed) -> None:
    emb = FakeEmbedder()
    first = build(backend, emb, parsed)
    with backend.writer() as writer:
        builder = writer.begin(first, model=emb.name, dim=emb.dim, chunker="test")
        with pytest.raises(RuntimeError, match="not complete"):
            writer.switch(builder.version)
        builder.abort()
    assert backend.live_version() == first


def test_sealing_refuses_a_version_whose_passages_are_missing(
    backend: PgBackend, db: Database, parsed: Parsed
) -> None:
    emb = FakeEmbedder()
    with backend.writer() as writer:
        builder = writer.begin(None, model=emb.name, dim=emb.dim, chunker="test")
        add(builder, emb, *parsed[0])
        writer.con.execute("DELETE FROM passage_vectors WHERE ordinal = 0")
        with pytest.raises(RuntimeError, match="out of step"):
            builder.seal(ReindexReport(version=builder.version))
        builder.abort()
    assert backend.live_version() is None
    assert _rows(db, "passages") == 0


def test_cleanup_keeps_the_newest_versions_and_frees_rows_no_version_uses(
    backend: PgBackend, db: Database, parsed: Parsed, corpus: Path
) -> None:
    emb = FakeEmbedder()
    versions = [build(backend, emb, parsed)]
    for n in ("Three", "Four", "Five"):
        versions.append(
            build(backend, emb, _changed(parsed, corpus, "dock workers", f"{n} dock workers"), versions[-1])
        )
    with backend.writer() as writer:
        assert writer.cleanup(2) == versions[:2]
    assert [v.version for v in backend.versions()] == versions[2:]
    live = backend.open_version(versions[-1])
    crane_revisions = 2  # the two versions kept differ only in that briefing
    assert _rows(db, "briefing_revs") == live.counts()[0] - 1 + crane_revisions
    with db.connection() as con:
        orphans = con.execute(
            "SELECT count(*) FROM passages p WHERE NOT EXISTS "
            "(SELECT 1 FROM version_members m WHERE m.rev_id = p.rev_id)"
        ).fetchone()
    assert orphans == (0,)


def test_cleanup_never_removes_the_live_version(backend: PgBackend, parsed: Parsed) -> None:
    emb = FakeEmbedder()
    first = build(backend, emb, parsed)
    second = build(backend, emb, [], base=first)
    with backend.writer() as writer:
        writer.switch(first)
        assert writer.cleanup(1) == []
    assert {v.version for v in backend.versions()} == {first, second}


def test_a_version_removed_while_open_is_refused_instead_of_answering_empty(
    backend: PgBackend, parsed: Parsed
) -> None:
    emb = FakeEmbedder()
    first = build(backend, emb, parsed)
    reader = backend.open_version(first)
    build(backend, emb, [], base=first)
    with backend.writer() as writer:
        writer.cleanup(1)
    with pytest.raises(VersionUnavailable, match="removed"), reader.reading():
        pass
    with pytest.raises(VersionUnavailable):
        backend.open_version(first)


def test_a_version_whose_briefings_do_not_add_up_is_refused(
    backend: PgBackend, db: Database, parsed: Parsed
) -> None:
    version = build(backend, FakeEmbedder(), parsed)
    with db.connection() as con:
        con.execute("DELETE FROM version_members WHERE briefing_id = %s", (CRANE,))
    with pytest.raises(VersionUnavailable, match="damaged"):
        backend.open_version(version)


def test_fallbacks_are_the_parent_first(backend: PgBackend, parsed: Parsed) -> None:
    emb = FakeEmbedder()
    a = build(backend, emb, parsed)
    b = build(backend, emb, [], base=a)
    c = build(backend, emb, [], base=a)  # built from a, after a rollback to it
    assert backend.fallbacks(c) == [a, b]


# ---------------------------------------------------------------------------- the lock


def test_a_second_reindex_is_refused_and_told_who_holds_the_lock(backend: PgBackend, db: Database) -> None:
    other = PgBackend(Database(db.url, min_size=1, max_size=1))  # another process, another machine
    with backend.writer("moderator Ann via /reindex"):
        assert other.reindex_running()
        assert other.lock_holder()["who"] == "moderator Ann via /reindex"
        with pytest.raises(ReindexBusyError) as err, other.writer("scheduled reindex"):
            pass
    assert "moderator Ann via /reindex" in str(err.value) and err.value.holder["host"]
    assert not other.reindex_running() and other.lock_holder() == {}
    with other.writer("scheduled reindex"):
        assert backend.lock_holder()["who"] == "scheduled reindex"
    other.db.close()


def test_the_lock_dies_with_its_session_and_its_holder_is_no_longer_reported(
    backend: PgBackend, db: Database
) -> None:
    with backend.writer("doomed") as writer:
        pid = writer.con.info.backend_pid
        with db.connection() as con:
            con.execute("SELECT pg_terminate_backend(%s)", (pid,))
        _wait(lambda: not backend.reindex_running())
        assert backend.lock_holder() == {}
        assert _rows(db, "reindex_holders") == 1  # the row is left behind, and ignored
        with backend.writer("next"):
            assert backend.lock_holder()["who"] == "next"


def test_corpora_have_their_own_locks(db: Database) -> None:
    one, two = PgBackend(db, "guild-1"), PgBackend(db, "guild-2")
    with one.writer("one"), two.writer("two"):
        assert one.lock_holder()["who"] == "one" and two.lock_holder()["who"] == "two"


def _wait(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# ---------------------------------------------------------------------------- killed builds


def test_a_killed_build_leaves_the_old_version_live_and_the_next_reindex_cleans_up(
    backend: PgBackend, db: Database, parsed: Parsed, corpus: Path, pg_url: str
) -> None:
    emb = FakeEmbedder()
    first = build(backend, emb, parsed[:6])
    passages_before = _rows(db, "passages")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.pg_build_child", pg_url, str(corpus)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        began = child.stdout.readline().split()
        assert began[0] == "began", began
        while child.stdout.readline().strip() != "added 4":
            pass
        assert backend.reindex_running()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    _wait(lambda: not backend.reindex_running())
    assert backend.live_version() == first
    assert [v.version for v in backend.versions()] == [first]
    assert _rows(db, "passages") > passages_before  # what the killed build wrote is still there
    reader = backend.open_version(first)
    assert reader.counts() == (6, sum(len(p) for _, p in parsed[:6]))

    with backend.writer("next reindex") as writer:
        assert writer.clean_abandoned() == [began[1]]
    assert _rows(db, "passages") == passages_before
    assert _rows(db, "versions") == 1


# ---------------------------------------------------------------------------- several corpora


def test_corpora_in_one_database_never_mix(db: Database, parsed: Parsed) -> None:
    emb = FakeEmbedder()
    one, two = PgBackend(db, "guild-1"), PgBackend(db, "guild-2")
    crane = [x for x in parsed if x[0].briefing_id == CRANE]
    v1 = build(one, emb, [x for x in parsed if x[0].briefing_id != CRANE])
    v2 = build(two, emb, crane)
    assert (one.live_version(), two.live_version()) == (v1, v2)
    r1, r2 = one.open_version(v1), two.open_version(v2)
    question = emb.encode_query("How many dock workers were hurt when the harbor crane collapsed?")
    for reader, wanted in ((r1, lambda b: b != CRANE), (r2, lambda b: b == CRANE)):
        dense = reader.dense_search(question, 100)
        lexical = reader.lexical_search(["harbor", "crane", "dock"], 100)
        stored, _ = reader.fetch([v for v, _ in dense + lexical])
        assert stored and all(wanted(sp.passage.briefing_id) for sp in stored)
    assert r2.counts() == (1, len(crane[0][1]))
    with pytest.raises(VersionUnavailable):
        one.open_version(v2)  # a version id of another corpus opens nothing
    one.save_report(ReindexReport(version=v1, briefings_total=11))
    assert two.last_report() is None


def test_answer_records_are_shared_between_processes_and_kept_to_their_corpus(db: Database) -> None:
    elsewhere = Database(db.url, min_size=1, max_size=1)  # another bot process
    try:
        key = PgBackend(db, "guild-1").answer_records().put('{"question": "q", "shown": ["p1"]}')
        assert json.loads(PgBackend(elsewhere, "guild-1").answer_records().get(key) or "") == {
            "question": "q",
            "shown": ["p1"],
        }
        assert PgBackend(elsewhere, "guild-2").answer_records().get(key) is None
        assert PgBackend(db, "guild-1").answer_records().get("no-such-key") is None
    finally:
        elsewhere.close()


def test_old_answer_records_are_forgotten(db: Database) -> None:
    records = PgBackend(db).answer_records()
    old = records.put("{}")
    with db.connection() as con:
        con.execute(
            "UPDATE answer_records SET created_at = now() - interval '91 days' WHERE key = %s", (old,)
        )
    records.put("{}")
    assert records.get(old) is None


def test_the_last_report_is_the_newest_saved(backend: PgBackend) -> None:
    assert backend.last_report() is None
    backend.save_report(ReindexReport(version="v1", passages_added=3))
    backend.save_report(ReindexReport(version="v2", passages_added=5, warnings=["x.md: kept"]))
    report = backend.last_report()
    assert report is not None and (report.version, report.passages_added, report.warnings) == (
        "v2",
        5,
        ["x.md: kept"],
    )


def test_term_statistics_stay_exact_in_versions_built_on_others(
    backend: PgBackend, parsed: Parsed, corpus: Path, tmp_path: Path
) -> None:
    emb = FakeEmbedder()
    first = build(backend, emb, parsed)
    (corpus / "000_457032d09a867f08.txt").unlink()
    changed = _changed(parsed, corpus, "Two dock workers", "Two dock workers and a harbor pilot")
    with building(backend, emb, base=first) as builder:
        builder.remove_briefing("000_457032d09a867f08")
        for meta, passages in changed:
            add(builder, emb, meta, passages)
    layout = IndexLayout(tmp_path / "files")
    files = IndexVersion(layout.version_dir(reindex(corpus, layout, emb).version or ""))
    terms = query_terms("Iran Russia supply drones harbor pilot dock workers crane Lindenfall water")
    try:
        assert backend.open_version(builder.version).document_frequencies(terms) == (
            files.store.document_frequencies(terms)
        )
    finally:
        files.close()


def test_a_cleanup_during_an_answer_does_not_change_what_the_answer_reads(
    backend: PgBackend, parsed: Parsed
) -> None:
    emb = FakeEmbedder()
    first = build(backend, emb, parsed)
    reader = backend.open_version(first)
    question = emb.encode_query("How many dock workers were hurt when the harbor crane collapsed?")
    with reader.reading():
        before = reader.dense_search(question, 5)
        # Elsewhere: a full rebuild, then a cleanup that deletes this version and all its rows.
        build(backend, emb, parsed)
        with backend.writer() as writer:
            assert writer.cleanup(1) == [first]
        assert list(reader.iter_passages()) == []  # read outside this answer: the rows are gone
        stored, _ = reader.fetch([v for v, _ in before])
        assert reader.dense_search(question, 5) == before and len(stored) == 5
    with pytest.raises(VersionUnavailable), reader.reading():
        pass

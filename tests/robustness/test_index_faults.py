"""Faults in the index folder: damaged or missing files, a read-only folder, a full disk,
races with status, a kill between publishing and reporting. Questions keep being answered,
``status`` never crashes, and ``briefbot index`` repairs or says clearly why it cannot."""

from __future__ import annotations

import errno
import sqlite3
import threading
from pathlib import Path

import pytest

from bot import app, cli
from bot.errors import UserFacingError
from bot.handlers import Handlers
from index import build
from index.service import LAST_REPORT, BriefingService
from index.versions import IndexLayout, ReindexBusyError
from tests.fakes import FakeEmbedder
from tests.robustness.conftest import IS_ROOT, fresh

QUESTION = "When did the Saltmere harbour reopen after the storm?"


@pytest.fixture
def two_versions(small_service: BriefingService, small_corpus: Path) -> tuple[str, str]:
    """The small corpus indexed twice (the second version live), for fallbacks."""
    first = small_service.status().version
    (small_corpus / "2025-01-18-ferry.md").write_text("# Ferry\n\nThe ferry timetable changes in March.\n")
    second = small_service.reindex().version
    assert first and second and first != second
    return first, second


@pytest.mark.parametrize(
    "damage",
    [b"\xff\xfe\x00garbled\x80", b"", b"   \n", b"../../../etc/passwd\n", b"v-does-not-exist\n", None],
    ids=["garbled", "empty", "blank", "a path", "an unknown version", "deleted"],
)
def test_a_damaged_current_file_serves_the_newest_complete_version_and_index_repairs_it(
    small_service: BriefingService, two_versions: tuple[str, str], damage: bytes | None
) -> None:
    _, newest = two_versions
    current = small_service.layout.current_file
    if damage is None:
        current.unlink()
    else:
        current.write_bytes(damage)
    service = fresh(small_service)

    status = service.status()
    answer = service.ask(QUESTION)
    report = service.reindex()

    assert status.version == newest and status.problems
    assert answer.quotes and answer.index_version == newest
    assert report.refused is None
    assert small_service.layout.current_version() == newest
    assert fresh(small_service).status().problems == []


def test_status_never_takes_or_creates_the_lock(small_service: BriefingService, tmp_path: Path) -> None:
    lock = small_service.layout.lock_file
    lock.unlink(missing_ok=True)
    folder = small_service.config.index_dir
    folder.chmod(0o555)
    try:
        status = fresh(small_service).status()
    finally:
        folder.chmod(0o755)

    assert status.version is not None and not status.reindex_running
    assert not lock.exists()


@pytest.mark.skipif(IS_ROOT, reason="root ignores folder permissions")
def test_status_works_on_a_read_only_index_folder(small_service: BriefingService) -> None:
    folder = small_service.config.index_dir
    folder.chmod(0o555)
    try:
        status = fresh(small_service).status()
    finally:
        folder.chmod(0o755)

    assert status.version is not None


def test_status_racing_reindexes_never_makes_one_fail(small_service: BriefingService) -> None:
    stop = threading.Event()
    probes = 0

    def probe() -> None:
        nonlocal probes
        layout = IndexLayout(small_service.config.index_dir)
        while not stop.is_set():
            layout.reindex_running()
            probes += 1

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        for _ in range(8):
            small_service.reindex(full=True)
    finally:
        stop.set()
        prober.join()

    assert probes > 100


def test_a_reindex_that_really_is_running_is_still_refused(small_service: BriefingService) -> None:
    layout = IndexLayout(small_service.config.index_dir)
    with layout.reindex_lock("someone else"):
        assert layout.reindex_running()
        with pytest.raises(ReindexBusyError):
            fresh(small_service).reindex()


async def test_the_busy_message_keeps_its_timestamp_as_written(small_service: BriefingService) -> None:
    layout = small_service.layout
    with layout.reindex_lock("the console"), pytest.raises(UserFacingError) as err:
        await Handlers(fresh(small_service)).reindex()

    message = err.value.message
    assert message.startswith("A reindex is already running (the console")
    assert "T" in message and "Z" in message and message[0].isupper()


def test_in_place_damage_to_the_live_store_is_recovered_without_a_new_current(
    small_service: BriefingService, two_versions: tuple[str, str]
) -> None:
    first, second = two_versions
    assert small_service.ask(QUESTION).index_version == second
    store = small_service.layout.version_dir(second) / "store.sqlite3"
    data = bytearray(store.read_bytes())
    for i in range(100, len(data), 512):  # scribble over every page, keeping the size
        data[i : i + 64] = b"\xa5" * 64
    store.write_bytes(bytes(data))
    small_service.searcher().index.store.close()  # the next query opens the damaged file

    answer = small_service.ask(QUESTION)

    assert answer.quotes and answer.index_version == first
    assert any("checksum" in p or second in p for p in small_service.status().problems)


def test_after_a_kill_between_publishing_and_reporting_status_shows_the_live_versions_report(
    small_service: BriefingService, small_corpus: Path
) -> None:
    (small_corpus / "2025-01-18-ferry.md").write_text("# Ferry\n\nThe ferry timetable changes in March.\n")
    # What a process killed after publishing leaves: a new live version, last_report.json stale.
    published = build.reindex(small_corpus, small_service.layout, FakeEmbedder())

    status = fresh(small_service).status()

    assert status.version == published.version
    assert status.last_report is not None and status.last_report.version == published.version
    assert status.last_report.briefings_added == ["2025-01-18-ferry"]


def test_a_planted_huge_report_does_not_stall_status(small_service: BriefingService) -> None:
    path = small_service.config.index_dir / LAST_REPORT
    with path.open("w") as fh:
        fh.write('{"version": "x", "warnings": ["' + "w" * (20 * 1024 * 1024) + '"]}')

    status = fresh(small_service).status()

    assert status.version is not None
    assert status.last_report is None or len(str(status.last_report.to_json())) < 1_000_000


@pytest.fixture
def cli_env(small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(app, "build_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setenv("BRIEFBOT_CORPUS_DIR", str(small_corpus))
    index_dir = tmp_path / "cli-index"
    monkeypatch.setenv("BRIEFBOT_INDEX_DIR", str(index_dir))
    monkeypatch.chdir(tmp_path)
    return index_dir


@pytest.mark.parametrize("where", ["vectors", "store", "manifest"])
def test_a_full_disk_ends_briefbot_index_with_a_clear_message(
    cli_env: Path,
    small_corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    assert cli.main(["index"]) == 0
    live = IndexLayout(cli_env).current_version()
    (small_corpus / "2025-01-18-ferry.md").write_text("# Ferry\n\nThe ferry timetable changes in March.\n")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def full_db(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    target = {
        "vectors": ("index.version_vectors.VersionVectors.save", full),
        "store": ("index.store.Store.commit", full_db),
        "manifest": ("index.build.seal", full),
    }[where]
    monkeypatch.setattr(*target)
    capsys.readouterr()

    code = cli.main(["index"])

    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err and "unchanged" in err and ("space" in err or "full" in err)
    assert IndexLayout(cli_env).current_version() == live
    assert not [p for p in (cli_env / "versions").iterdir() if p.name.endswith(".partial")]


def test_a_refused_reindex_exits_3_and_allow_shrink_publishes(
    cli_env: Path, small_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["index"]) == 0
    for name in ("2025-01-12-reservoir.md", "2025-01-14-grid.md"):
        (small_corpus / name).unlink()
    capsys.readouterr()

    refused = cli.main(["index"])
    out_refused = capsys.readouterr().out
    allowed = cli.main(["index", "--allow-shrink"])

    assert refused == 3 and "--allow-shrink" in out_refused and "Not published" in out_refused
    assert allowed == 0


def test_the_last_good_version_survives_a_vanished_corpus_folder_under_watching(
    small_service: BriefingService, small_corpus: Path
) -> None:
    live = small_service.status().version
    small_corpus.rename(small_corpus.with_name("unmounted"))

    for _ in range(3):  # the watcher and the schedule keep trying
        report = small_service.reindex()
        assert report.refused_kind == "corpus"

    assert small_service.status().version == live
    assert small_service.ask(QUESTION).quotes

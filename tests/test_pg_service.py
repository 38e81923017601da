"""The bot on PostgreSQL (``BRIEFBOT_DATABASE_URL``): settings to service, one corpus per server
in one database, the command line, and failing closed when the database cannot be reached."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot import app, cli
from bot.answer_store import AnswerRecord, AnswerStore, AnswerStoreUnavailable
from bot.errors import UserFacingError
from bot.handlers import INDEX_UNAVAILABLE, Handlers
from bot.settings import Settings
from bot.tenants import Tenants
from index.pg.database import close_shared
from index.service import BriefingService, IndexUnavailableError
from tests.conftest import FAKE_CALIBRATION
from tests.fakes import FakeEmbedder
from tests.pgserver import PgServer

UNREACHABLE = "postgresql://briefbot@127.0.0.1:9/briefbot?connect_timeout=2"
SERVER_A, SERVER_B = 111111111111111111, 222222222222222222


@pytest.fixture(autouse=True)
def _close_pools() -> Iterator[None]:
    yield
    close_shared()


def _service(settings: Settings, guild_id: int | None = None) -> BriefingService:
    return BriefingService(
        settings.service_config(guild_id), FakeEmbedder(), FAKE_CALIBRATION, today=lambda: date(2025, 3, 1)
    )


def test_the_database_url_puts_the_index_answers_and_reports_in_the_database(
    pg_url: str, corpus: Path, tmp_path: Path
) -> None:
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", database_url=pg_url)
    svc = _service(settings)
    report = svc.reindex()
    assert report.briefings_total == 12 and svc.status().index_dir.startswith("postgresql://")
    assert "(corpus default)" in svc.status().index_dir
    assert not (tmp_path / "index" / "versions").exists()  # nothing of the index in files
    store = AnswerStore(records=lambda: svc.answer_records())
    key = store.put(AnswerRecord(question="q", guild_id=None))
    assert not (tmp_path / "answers.sqlite3").exists()
    again = _service(settings)  # another process: same live version, same report, same records
    assert again.status().version == report.version
    assert again.last_report() is not None
    assert AnswerStore(records=lambda: again.answer_records()).get(key) == AnswerRecord(question="q")


def test_each_server_is_a_corpus_of_its_own_in_one_database(
    pg_url: str, tmp_path: Path, corpus: Path
) -> None:
    root = tmp_path / "corpora"
    (root / str(SERVER_A)).mkdir(parents=True)
    (root / str(SERVER_B)).mkdir()
    (corpus / "000_457032d09a867f08.txt").rename(root / str(SERVER_A) / "iran.txt")
    (corpus / "2024-12-12-bank-of-valmora-rate-decision.md").rename(root / str(SERVER_B) / "valmora.md")
    settings = Settings(
        corpus_dir=root,
        index_dir=tmp_path / "index",
        database_url=pg_url,
        corpus_per_server=True,
        discord_guild_ids=[SERVER_A, SERVER_B],
    )
    a, b = _service(settings, SERVER_A), _service(settings, SERVER_B)
    a.reindex()
    b.reindex()
    assert [m.briefing_id for m in a.briefings()] == ["iran"]
    assert [m.briefing_id for m in b.briefings()] == ["valmora"]
    assert all(q.briefing_id == "iran" for q in a.ask("What did the Bank of Valmora do?", k=5).quotes)
    key = a.answer_records().put("{}")
    assert b.answer_records().get(key) is None  # a record of one server never opens in another


def test_tenants_keep_answer_records_in_the_database(pg_url: str, tmp_path: Path, corpus: Path) -> None:
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", database_url=pg_url)
    first = Tenants(settings, FakeEmbedder(), calibration=FAKE_CALIBRATION).get(None)
    second = Tenants(settings, FakeEmbedder(), calibration=FAKE_CALIBRATION).get(None)
    key = first.answers.put(AnswerRecord(question="what now?"))
    record = second.answers.get(key)
    assert record is not None and record.question == "what now?"
    assert second.answers.claim(key, "post") and not first.answers.claim(key, "post")
    assert not (tmp_path / "answers.sqlite3").exists()


def test_the_command_line_indexes_and_answers_through_the_database(
    pg_url: str,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(app, "build_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setenv("BRIEFBOT_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("BRIEFBOT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("BRIEFBOT_DATABASE_URL", pg_url)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["index", "--json"]) == 0
    version = json.loads(capsys.readouterr().out)["version"]
    assert cli.main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["version"] == version and status["engine"].startswith("postgresql")
    assert "secret" not in json.dumps(status)


# ---------------------------------------------------------------------------- failing closed


def test_an_unreachable_database_at_start_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIEFBOT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("BRIEFBOT_DATABASE_URL", UNREACHABLE.replace("briefbot@", "briefbot:secret@"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["status"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "cannot be reached" in err and "127.0.0.1:9" in err and "BRIEFBOT_DATABASE_URL" in err
    assert "secret" not in err


async def test_a_question_while_the_database_is_down_gets_index_unavailable(
    pg_server: PgServer, corpus: Path, tmp_path: Path
) -> None:
    name = pg_server.create_database()
    try:
        svc = _service(
            Settings(corpus_dir=corpus, index_dir=tmp_path / "index", database_url=pg_server.url(name))
        )
        svc.reindex()
        handlers = Handlers(svc)
        assert (await handlers.ask("What did Iran supply to Russia?")).quotes
        pg_server.drop_database(name)  # the database goes away under a running bot
        with pytest.raises(UserFacingError) as err:
            await handlers.ask("What did Iran supply to Russia?")
        assert err.value.message == INDEX_UNAVAILABLE
        with pytest.raises(IndexUnavailableError):
            svc.briefings()
        status = svc.status()  # says so, instead of failing
        assert status.version is None and "cannot be reached" in status.problems[0]
        with pytest.raises(AnswerStoreUnavailable):
            AnswerStore(records=lambda: svc.answer_records()).put(AnswerRecord(question="q"))
    finally:
        pg_server.drop_database(name)


def test_a_service_whose_database_cannot_be_reached_says_so(tmp_path: Path, corpus: Path) -> None:
    svc = _service(Settings(corpus_dir=corpus, index_dir=tmp_path / "index", database_url=UNREACHABLE))
    with pytest.raises(IndexUnavailableError, match="cannot be reached"):
        svc.ask("anything?")
    assert "cannot be reached" in svc.status().problems[0]


def _tiny_eval_set(root: Path) -> Path:
    docs = [
        ("harbour", "Saltmere harbour", "The crane collapse closed berth seven for three weeks."),
        ("bank", "Bank of Valmora", "The Bank of Valmora cut its policy rate to 4.50 percent in December."),
        ("grid", "Eastvale grid", "Eastvale households will pay 12 percent more for electricity from March."),
    ]
    questions = [
        ("q1", "How long was berth seven closed?", "three weeks"),
        ("q2", "What did the Bank of Valmora set its policy rate to?", "4.50 percent"),
        ("q3", "How much more will Eastvale households pay for electricity?", "12 percent"),
    ]
    root.mkdir()
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"id": i, "title": t, "text": x}) + "\n" for i, t, x in docs), encoding="utf-8"
    )
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"id": i, "text": q, "answers": [a]}) + "\n" for i, q, a in questions),
        encoding="utf-8",
    )
    return root


def test_eval_on_the_database_builds_a_corpus_of_its_own_and_removes_it(
    pg_url: str, corpus: Path, tmp_path: Path
) -> None:
    from index.evaluation import run_eval
    from index.pg.database import shared_database

    bot = _service(Settings(corpus_dir=corpus, index_dir=tmp_path / "index", database_url=pg_url))
    live = bot.reindex().version
    dataset = _tiny_eval_set(tmp_path / "tiny")
    on_files = run_eval(dataset, embedder=FakeEmbedder(), progress=False)
    on_db = run_eval(dataset, embedder=FakeEmbedder(), progress=False, database_url=pg_url)
    assert on_db["engine"].startswith("postgresql") and on_files["engine"].startswith("faiss")
    for figure in ("queries", "passages", "hit@1", "hit@5", "mrr@10", "false_abstain"):
        assert on_db[figure] == on_files[figure], figure
    with shared_database(pg_url).connection() as con:
        names = [r[0] for r in con.execute("SELECT name FROM corpora ORDER BY name")]
    assert names == ["default"] and bot.status().version == live


def test_making_a_servers_corpus_never_touches_the_database(tmp_path: Path, corpus: Path) -> None:
    # Tenants are made on the event loop: the database is reached later, in a thread.
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", database_url=UNREACHABLE)
    tenant = Tenants(settings, FakeEmbedder(), calibration=FAKE_CALIBRATION).get(None)
    assert tenant.service.answers_file is None
    with pytest.raises(AnswerStoreUnavailable):
        tenant.answers.get("some-key")

"""The briefbot command line and the local console, driven as a person would."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import app, cli
from bot.console import Console
from bot.handlers import Handlers
from tests.fakes import FakeEmbedder


@pytest.fixture
def cli_env(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(app, "build_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setenv("BRIEFBOT_CORPUS_DIR", str(corpus))
    index_dir = tmp_path / "cli-index"
    monkeypatch.setenv("BRIEFBOT_INDEX_DIR", str(index_dir))
    monkeypatch.chdir(tmp_path)
    return index_dir


def test_ask_json_builds_the_index_first_and_prints_one_json_object(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ask", "What did Iran supply to Russia?", "--json", "-k", "3"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["question"] == "What did Iran supply to Russia?"
    assert isinstance(data["abstained"], bool) and data["index_version"]
    assert len(data["quotes"]) == 3
    assert data["quotes"][0]["path"] == "000_457032d09a867f08.txt"
    assert data["quotes"][0]["page"] is None  # a page only for PDF briefings


def test_index_json_reports_the_contract_keys(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["index", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    keys = {"version", "briefings_added", "briefings_changed", "briefings_removed", "passages_added"}
    assert keys | {"passages_removed", "skipped", "seconds"} <= set(report)
    assert len(report["briefings_added"]) == 12


def test_index_reports_skipped_files_with_their_reason(
    cli_env: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (corpus / "broken.md").write_bytes(b"\x00binary")
    assert cli.main(["index"]) == 0
    out = capsys.readouterr().out
    assert "broken.md: binary file" in out


def test_status_json_says_what_is_indexed(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["index"])
    capsys.readouterr()
    assert cli.main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["briefings"] == 12 and status["model"] == "fake-hash-64"


def test_a_bad_since_date_is_a_clear_error(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", "pay offer", "--since", "last tuesday"]) == 1
    assert "must be a date like 2024-10-31" in capsys.readouterr().err


async def run_lines(handlers: Handlers, *lines: str) -> str:
    out = io.StringIO()
    console = Console(handlers, out, emphasis=False, progress=lambda *a: None)
    for line in lines:
        await console.handle(line)
    return out.getvalue()


async def test_console_answers_a_plain_question_with_attributed_quotes(handlers: Handlers) -> None:
    text = await run_lines(handlers, "What did Iran supply to Russia?")
    assert "Iran provided missiles and drones" in text
    added = datetime.now(UTC).date().isoformat()  # undated: the day it was indexed, said as such
    assert (
        "— North Korean troops, equipped with Russian uniforms and gear, inch closer to Ukraine "
        f"(added {added}), Russia’s International Lifelines, ¶ 9"
    ) in text


async def test_console_runs_status_and_reindex_like_the_bot(handlers: Handlers) -> None:
    text = await run_lines(handlers, "/status", "/reindex")
    assert "12 briefings" in text
    assert "Nothing to update" in text


async def test_console_shows_context_around_a_quote(handlers: Handlers) -> None:
    text = await run_lines(handlers, "/ask What did Iran supply to Russia?", "/context 1")
    assert "▶ ¶" in text


async def test_console_explains_unknown_commands_and_empty_questions(handlers: Handlers) -> None:
    text = await run_lines(handlers, "/frobnicate", "/ask   ")
    assert "Unknown command /frobnicate" in text
    assert "✗ Ask a question" in text


def test_index_rollback_makes_the_previous_version_live(
    cli_env: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["index", "--json"])
    first = json.loads(capsys.readouterr().out)["version"]
    (corpus / "2024-05-30-carrow-wildfire-season-outlook.md").unlink()
    cli.main(["index", "--json"])
    second = json.loads(capsys.readouterr().out)
    assert second["briefings_removed"] == ["2024-05-30-carrow-wildfire-season-outlook"]
    assert cli.main(["index", "--rollback", "--json"]) == 0
    rolled = json.loads(capsys.readouterr().out)
    assert (rolled["previous_version"], rolled["version"]) == (second["version"], first)
    cli.main(["status", "--json"])
    assert json.loads(capsys.readouterr().out)["version"] == first


async def test_console_answers_whats_new_with_the_newest_briefings(handlers: Handlers) -> None:
    text = await run_lines(handlers, "What's new?")
    assert text.startswith("The 5 newest briefings, with their key takeaways (quoted):")
    assert (
        "[1] North Korean troops, equipped with Russian uniforms and gear, inch closer to Ukraine (added "
        in text
    )

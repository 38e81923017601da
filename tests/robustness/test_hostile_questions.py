"""Hostile questions: every one gets an answer or a clear refusal, never a crash, through the
shared handlers, the CLI and the console; nothing a briefing holds reaches a terminal raw."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest

from bot import app, cli
from bot.console import Console
from bot.errors import UserFacingError
from bot.handlers import Handlers, parse_date_option
from index.service import BriefingService
from index.timeparse import parse_time
from tests.fakes import FakeEmbedder
from tests.robustness.conftest import PUBLIC

QUESTIONS = [
    "What happened after 9999-12-31?",
    "What happened after December 31, 9999?",
    "since 9999-12",
    "What happened before 0001-01-01?",
    "as of 0001-01-01, what was said?",
    "after 0000-00-00",
    "What changed in the past 999 years?",
    "before 2024-13-45",
    "'; DROP TABLE passages; --",
    '" OR 1=1 --',
    "NEAR(harbour pier) AND OR NOT *",
    '^harbour* "unbalanced',
    "\x1b[2J\x1b[H harbour",
    "harbour\u202e reopened \u2066",
    "@everyone <@123> <@&456> harbour",
    "🚢🌊" * 100,
    "\u200b\u200b\u200b",
    "harbour " * 62,
]


@pytest.mark.parametrize("question", QUESTIONS)
async def test_a_hostile_question_is_answered_or_refused_clearly(
    small_service: BriefingService, question: str
) -> None:
    handlers = Handlers(small_service)
    try:
        answer = await handlers.ask(question, viewer=PUBLIC)
    except UserFacingError as exc:
        assert exc.message
        return
    assert answer.index_version


@pytest.mark.parametrize("question", QUESTIONS)
def test_time_words_at_the_ends_of_the_calendar_never_overflow(question: str) -> None:
    for today in (date(2025, 3, 1), date(9999, 12, 31), date(1, 1, 1)):
        parse_time(question, today)


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "9999-12", "2024-02-30", "99999-01-01", "-1"])
def test_a_since_option_is_a_date_or_a_clear_refusal(value: str) -> None:
    try:
        parse_date_option(value)
    except UserFacingError as exc:
        assert "2024-10-31" in exc.message


@pytest.fixture
def cli_env(small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(app, "build_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setenv("BRIEFBOT_CORPUS_DIR", str(small_corpus))
    monkeypatch.setenv("BRIEFBOT_INDEX_DIR", str(tmp_path / "cli-index"))
    monkeypatch.chdir(tmp_path)
    return small_corpus


@pytest.mark.parametrize("question", ["What happened after 9999-12-31?", "before 0001-01-01", "\x1b[2J"])
def test_the_cli_answers_hostile_questions_without_a_traceback(
    cli_env: Path, capsys: pytest.CaptureFixture[str], question: str
) -> None:
    code = cli.main(["ask", question])

    out, err = capsys.readouterr()
    assert code in (0, 1)
    assert "Traceback" not in err and "\x1b[2J" not in out + err


ESCAPING = """# Notice \x1b]0;owned\x07 board

The harbour notice \x1b[2J\x1b[31mreopened\x1b[0m the pier\u202e to ferries on Monday, officials said.

The second paragraph about the harbour ferries is ordinary text for the briefing, with no tricks.

A third paragraph about the ferries and the pier keeps the share of control characters small.
""" + "".join(
    f"\nParagraph {i} is ordinary text about the bridge, the reservoir and the grid prices.\n"
    for i in range(20)
)


def test_control_characters_in_a_briefing_are_shown_visibly_by_the_cli(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cli_env / "2025-01-20-notice.md").write_text(ESCAPING, encoding="utf-8")
    (cli_env / "evil\x1b[2J.md").write_text(ESCAPING, encoding="utf-8")

    assert cli.main(["index"]) == 0
    assert cli.main(["ask", "When did the harbour notice reopen the pier to ferries?"]) == 0
    assert cli.main(["status"]) == 0
    assert cli.main(["ask", "When did the harbour notice reopen the pier?", "--json"]) == 0

    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[2J\\x1b[31mreopened" in out
    last = json.loads(out.strip().splitlines()[-1])
    assert any("\x1b[2J" in q["text"] for q in last["quotes"])  # the data itself is unchanged


async def test_control_characters_in_a_briefing_are_shown_visibly_by_the_console(
    small_service: BriefingService, small_corpus: Path
) -> None:
    (small_corpus / "2025-01-20-notice.md").write_text(ESCAPING, encoding="utf-8")
    small_service.reindex()
    out = io.StringIO()
    console = Console(Handlers(small_service), out, emphasis=True)

    await console.handle("When did the harbour notice reopen the pier to ferries?")
    await console.handle("/context 1")
    await console.handle("/briefings")
    await console.handle("/status")

    shown = out.getvalue()
    assert "\\x1b[2J" in shown and "<U+202E>" in shown
    assert "\x1b[2J" not in shown and "\x1b]0" not in shown and "\u202e" not in shown
    assert shown.count("\x1b[1m") == shown.count("\x1b[0m") >= 1  # only the console's own bold

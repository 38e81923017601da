"""The command line with one corpus per server: ``--guild`` picks the server's folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot import app, cli
from tests.conftest import SAMPLE_CORPUS
from tests.fakes import FakeEmbedder

A, B = 1_111_111_111_111_111_111, 1_333_333_333_333_333_333
IRAN = "What did Iran supply to Russia?"


@pytest.fixture
def per_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Server A's corpus is the sample; B's folder has one unrelated briefing."""
    monkeypatch.setattr(app, "build_embedder", lambda settings: FakeEmbedder())
    corpora = tmp_path / "corpora"
    shutil.copytree(SAMPLE_CORPUS, corpora / str(A))
    (corpora / str(B)).mkdir()
    (corpora / str(B) / "2025-02-10-orlen.md").write_text(
        "# Orlen Valley wildfire contained\n\nFirefighters contained the Orlen Valley wildfire on 9 February.\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("BRIEFBOT_CORPUS_DIR", str(corpora))
    monkeypatch.setenv("BRIEFBOT_INDEX_DIR", str(tmp_path / "data" / "index"))
    monkeypatch.setenv("BRIEFBOT_CORPUS_PER_SERVER", "true")
    monkeypatch.setenv("DISCORD_GUILD_IDS", f"{A},{B}")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data" / "index"


def test_index_with_guild_builds_that_servers_index_only(
    per_server: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["index", "--guild", str(B), "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["briefings_added"] == ["2025-02-10-orlen"]
    assert (per_server / str(B) / "CURRENT").is_file()
    assert not (per_server / str(A)).exists() and not (per_server / "CURRENT").exists()


def test_ask_with_guild_answers_from_that_servers_corpus(
    per_server: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ask", IRAN, "--guild", f"https://discord.com/channels/{A}/42", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["quotes"][0]["path"] == "000_457032d09a867f08.txt"

    assert cli.main(["ask", IRAN, "--guild", str(B), "--json"]) == 0
    paths = {q["path"] for q in json.loads(capsys.readouterr().out)["quotes"]}
    assert paths <= {"2025-02-10-orlen.md"}


def test_without_guild_a_per_server_deployment_asks_which_server(
    per_server: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["status"]) == 1

    assert "pick one with --guild ID" in capsys.readouterr().err
    assert not per_server.exists()


def test_a_server_outside_the_allow_list_has_no_corpus(
    per_server: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["index", "--guild", "1222222222222222222"]) == 1

    assert "is not in DISCORD_GUILD_IDS" in capsys.readouterr().err


def test_guild_without_per_server_corpora_is_refused(
    per_server: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIEFBOT_CORPUS_PER_SERVER", "false")

    assert cli.main(["index", "--guild", str(A)]) == 1

    assert "needs BRIEFBOT_CORPUS_PER_SERVER=true" in capsys.readouterr().err

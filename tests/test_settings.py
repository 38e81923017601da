"""Settings: every one documented, ids pasted as links understood, bad values said in one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import cli
from bot.errors import UserFacingError
from bot.settings import Settings, env_name, load_settings

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / ".env.example"
GUILD, CHANNEL = 1_111_111_111_111_111_111, 2_222_222_222_222_222_222


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in Settings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)


def test_every_setting_has_a_commented_line_in_env_example() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    names = {m.group(1) for line in lines if (m := re.match(r"#?\s*([A-Z][A-Z0-9_]+)=", line))}
    for field in Settings.model_fields:
        name = env_name(field)
        assert name in names, f"{name} is missing from .env.example"
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{name}="))
        assert any(lines[j].startswith("#") for j in range(max(0, at - 3), at)), f"{name} has no comment"


def test_env_example_as_it_is_gives_the_defaults() -> None:
    loaded = Settings(_env_file=EXAMPLE)  # type: ignore[call-arg]
    assert loaded == Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "value",
    [f"https://discord.com/channels/{GUILD}/{CHANNEL}", f"<#{CHANNEL}>", str(CHANNEL), f" {CHANNEL} "],
)
def test_a_channel_may_be_given_as_its_link_mention_or_id(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("BRIEFBOT_MODLOG_CHANNEL_ID", value)
    assert load_settings(_env_file=None).modlog_channel_id == CHANNEL


def test_a_channel_link_given_for_the_server_means_its_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_GUILD_ID", f"https://discord.com/channels/{GUILD}/{CHANNEL}")
    assert load_settings(_env_file=None).discord_guild_id == GUILD


def test_thread_channels_are_a_comma_separated_list_of_ids_or_links(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEFBOT_THREAD_CHANNELS", f"{CHANNEL}, https://discord.com/channels/{GUILD}/5")
    assert load_settings(_env_file=None).thread_channels == [CHANNEL, 5]


def test_a_bad_value_names_the_variable_and_the_expected_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEFBOT_MODLOG_CHANNEL_ID", "#general")

    with pytest.raises(UserFacingError) as err:
        load_settings(_env_file=None)

    (line,) = err.value.message.splitlines()
    assert line.startswith("BRIEFBOT_MODLOG_CHANNEL_ID should be a channel id")
    assert "Copy Channel ID" in line and "“#general”" in line


def test_the_command_line_reports_a_bad_setting_in_one_line_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIEFBOT_TOP_K", "lots")

    code = cli.main(["status"])

    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("briefbot: BRIEFBOT_TOP_K ")
    assert "Traceback" not in err

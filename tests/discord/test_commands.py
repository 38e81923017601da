"""The command definitions Discord receives, where they are synced, and starting without a token."""

from __future__ import annotations

from pathlib import Path

import pytest
import simcord

from bot.client import BriefBot, command_payloads, run_bot
from bot.handlers import Handlers
from bot.settings import Settings

MODERATOR_COMMANDS = ("reindex", "status", "briefing")
MANAGE_GUILD = 1 << 5


def test_command_payloads_list_every_command_offline(bot_settings: Settings) -> None:
    payloads = {p["name"]: p for p in command_payloads(bot_settings)}

    assert set(payloads) == {"ask", "reindex", "status", "briefing", "Ask the briefings"}
    assert payloads["Ask the briefings"]["type"] == 3  # a message context menu
    ask_options = {o["name"]: o for o in payloads["ask"]["options"]}
    assert list(ask_options) == ["question", "briefing", "since", "private"]
    assert ask_options["question"]["required"] and ask_options["briefing"]["autocomplete"]
    assert payloads["ask"]["default_member_permissions"] is None
    subcommands = {o["name"]: o for o in payloads["briefing"]["options"]}
    assert set(subcommands) == {"add", "remove", "list"}
    assert subcommands["add"]["options"][0]["type"] == 11  # an attachment
    assert [c["value"] for c in payloads["reindex"]["options"][0]["choices"]] == [
        "update",
        "full",
        "rollback",
    ]


@pytest.mark.parametrize("name", MODERATOR_COMMANDS)
def test_moderator_commands_need_manage_server_and_are_not_usable_in_dms(
    bot_settings: Settings, name: str
) -> None:
    payload = next(p for p in command_payloads(bot_settings) if p["name"] == name)

    assert int(payload["default_member_permissions"]) == MANAGE_GUILD
    assert payload["dm_permission"] is False
    assert payload["contexts"] == [0]  # guild only


async def test_the_deprecated_discord_guild_id_still_names_the_server_commands_sync_to(
    bot_settings: Settings, handlers: Handlers
) -> None:
    guild_id = 1_234_567_890_123_456_789
    settings = bot_settings.model_copy(update={"discord_guild_ids": [], "discord_guild_id": guild_id})
    env = simcord.Env(BriefBot(settings, handlers))
    guild = env.create_guild("Newsroom", id=guild_id)
    channel = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"))
    await env.start()
    try:
        synced = [r for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
        assert [r.path for r in synced if "/guilds/" in r.path] == [
            f"/applications/{env.backend.application_id}/guilds/{guild_id}/commands"
        ]
        assert all(r.json == [] for r in synced if "/guilds/" not in r.path)
        with env.time_context():
            result = await alice.slash(channel, "ask", question="What did Iran supply to Russia?")
        assert result.response is not None and result.response.embeds
    finally:
        await env.shutdown()


def test_run_without_a_token_exits_2_and_points_at_the_readme(
    bot_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = run_bot(bot_settings)

    assert code == 2
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN" in err and "README" in err
    assert not (tmp_path / "answers.sqlite3").exists()

"""The command definitions Discord receives, where they are synced, and starting without a token."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import discord
import pytest
import simcord

from bot.client import BriefBot, command_payloads, invite_url, required_permissions, run_bot
from bot.handlers import Handlers
from bot.settings import Settings
from index.service import BriefingService
from tests.discord.conftest import GUILD_ID
from tests.discord.helpers import fresh_bot

MODERATOR_COMMANDS = ("reindex", "status", "briefing", "gaps", "Add to briefings")
MANAGE_GUILD = 1 << 5


def test_command_payloads_list_every_command_offline(bot_settings: Settings) -> None:
    payloads = {p["name"]: p for p in command_payloads(bot_settings)}

    assert set(payloads) == {
        "ask",
        "briefings",
        "help",
        "reindex",
        "status",
        "briefing",
        "gaps",
        "Ask the briefings",
        "Add to briefings",
    }
    assert payloads["Ask the briefings"]["type"] == 3  # a message context menu
    assert payloads["Add to briefings"]["type"] == 3
    ask_options = {o["name"]: o for o in payloads["ask"]["options"]}
    assert list(ask_options) == ["question", "briefing", "since", "private"]
    assert ask_options["question"]["required"] and ask_options["briefing"]["autocomplete"]
    for everyone in ("ask", "briefings", "help"):
        assert payloads[everyone]["default_member_permissions"] is None
    subcommands = {o["name"]: o for o in payloads["briefing"]["options"]}
    assert set(subcommands) == {"add", "remove", "restore", "list"}
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


ARCHIVE_ID = 3_333_333_333_333_333_333


async def _started(settings: Settings, handlers: Handlers) -> simcord.Env:
    """The bot in the two servers it serves."""
    served = settings.model_copy(update={"discord_guild_ids": [GUILD_ID, ARCHIVE_ID]})
    env = simcord.Env(BriefBot(served, handlers))
    env.create_guild("Newsroom", id=GUILD_ID)
    env.create_guild("Archive", id=ARCHIVE_ID)
    await env.start()
    return env


async def test_on_start_it_says_where_it_is_ready_and_prints_its_invite_link(
    bot_settings: Settings, handlers: Handlers, capsys: pytest.CaptureFixture[str]
) -> None:
    env = await _started(bot_settings, handlers)
    try:
        err = capsys.readouterr().err
        me = env.bot.user
        assert me is not None
        assert f"briefbot: ready in 2 guilds as {me} (id {me.id})." in err
        url = next(line.split(": ", 2)[2] for line in err.splitlines() if "invite link" in line)
        query = parse_qs(urlparse(url).query)
        assert query["client_id"] == [str(env.bot.application_id)]
        assert query["scope"] == ["bot applications.commands"]
        expected = discord.Permissions(
            view_channel=True, send_messages=True, embed_links=True, attach_files=True
        )
        assert int(query["permissions"][0]) == expected.value
    finally:
        await env.shutdown()


def test_answer_threads_add_exactly_the_thread_permissions(bot_settings: Settings) -> None:
    plain = required_permissions(bot_settings)
    threaded = required_permissions(bot_settings.model_copy(update={"thread_channels": [1]}))

    added = {name for name, on in threaded if on} - {name for name, on in plain if on}
    assert added == {"create_public_threads", "send_messages_in_threads", "read_message_history"}
    assert not plain.administrator and not plain.manage_messages and not plain.mention_everyone


def test_the_invite_link_for_one_server_preselects_it(bot_settings: Settings) -> None:
    url = invite_url(42, bot_settings.model_copy(update={"discord_guild_ids": [ARCHIVE_ID]}))
    several = invite_url(42, bot_settings.model_copy(update={"discord_guild_ids": [GUILD_ID, ARCHIVE_ID]}))

    query = parse_qs(urlparse(url).query)
    assert query["guild_id"] == [str(ARCHIVE_ID)] and query["disable_guild_select"] == ["true"]
    assert "guild_id" not in parse_qs(urlparse(several).query)


async def test_a_server_taken_off_the_list_loses_its_commands_and_none_are_global(
    bot_settings: Settings, handlers: Handlers, service: BriefingService
) -> None:
    both = bot_settings.model_copy(update={"discord_guild_ids": [GUILD_ID, ARCHIVE_ID]})
    env = simcord.Env(BriefBot(both, handlers))
    ours = env.create_guild("Newsroom", id=GUILD_ID)
    channel = ours.create_text_channel("general")
    alice = ours.add_member(env.create_user("alice"))
    env.inject_error("DELETE", "/users/@me/guilds/*", times=None)  # it cannot leave the archive
    env.create_guild("Archive", id=ARCHIVE_ID)
    await env.start()
    try:
        assert env.backend.commands.get(ARCHIVE_ID)

        await env.restart_bot(fresh_bot(bot_settings, service))

        assert not env.backend.commands.get(ARCHIVE_ID) and not env.backend.commands.get(None)
        visible = alice.available_commands(channel)
        assert "ask" in visible and len(visible) == len(set(visible))
    finally:
        await env.shutdown()

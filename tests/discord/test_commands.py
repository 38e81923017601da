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


async def test_commands_sync_to_one_guild_when_a_guild_id_is_set(
    bot_settings: Settings, handlers: Handlers
) -> None:
    guild_id = 1_234_567_890_123_456_789
    settings = bot_settings.model_copy(update={"discord_guild_id": guild_id})
    env = simcord.Env(BriefBot(settings, handlers))
    guild = env.create_guild("Newsroom", id=guild_id)
    channel = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"))
    await env.start()
    try:
        synced = [r.path for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
        assert synced and all(f"/guilds/{guild_id}/" in path for path in synced)
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


async def _started(settings: Settings, handlers: Handlers) -> simcord.Env:
    env = simcord.Env(BriefBot(settings, handlers))
    env.create_guild("Newsroom")
    env.create_guild("Archive")
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
    url = invite_url(42, bot_settings.model_copy(update={"discord_guild_id": 1234}))

    query = parse_qs(urlparse(url).query)
    assert query["guild_id"] == ["1234"] and query["disable_guild_select"] == ["true"]


@pytest.mark.parametrize("first_guild", [True, False])
async def test_switching_between_server_and_global_commands_leaves_no_duplicates(
    bot_settings: Settings, handlers: Handlers, service: BriefingService, first_guild: bool
) -> None:
    guild_id = 1_234_567_890_123_456_789
    in_guild = bot_settings.model_copy(update={"discord_guild_id": guild_id})
    first, then = (in_guild, bot_settings) if first_guild else (bot_settings, in_guild)
    env = simcord.Env(BriefBot(first, handlers))
    guild = env.create_guild("Newsroom", id=guild_id)
    channel = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"))
    await env.start()
    try:
        await env.restart_bot(fresh_bot(then, service))

        gone, kept = (guild_id, None) if first_guild else (None, guild_id)
        assert not env.backend.commands.get(gone) and env.backend.commands.get(kept)
        visible = alice.available_commands(channel)
        assert "ask" in visible and len(visible) == len(set(visible))
    finally:
        await env.shutdown()

"""Server scope: the bot serves the servers in DISCORD_GUILD_IDS and nothing else.

Elsewhere it registers nothing, answers nothing, does no work and leaves; in direct messages
``/ask`` is off unless ``allow_dms`` is on, and then answers from public briefings only.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest
import simcord
from pydantic import SecretStr

from bot import cli
from bot.checks import DMS_OFF
from bot.client import BriefBot, run_bot
from bot.handlers import Handlers
from bot.settings import Settings
from tests.discord.conftest import GUILD_ID
from tests.discord.helpers import World, message_payloads, shown_text
from tests.fakes import FakeEmbedder

FOREIGN_ID = 2_222_222_222_222_222_222
IRAN = "What did Iran supply to Russia?"
RANSOMWARE = "Which group claimed the ransomware attack on the Meridale Health Network?"
RESTRICTED_TITLE = "Ransomware attack disrupts Meridale Health Network"


def _puts(env: simcord.Env) -> list[simcord.HttpLogEntry]:
    return [r for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]


def _register_stale_global_commands(env: simcord.Env) -> None:
    """What an older version (global sync) left registered: every command, in every server."""
    bot = env.bot
    assert isinstance(bot, BriefBot)
    commands = bot.tree.get_commands(guild=discord.Object(id=GUILD_ID))
    from simcord.backend.ops.commands import COMMAND_FIELDS

    payloads = [{k: v for k, v in c.to_dict(bot.tree).items() if k in COMMAND_FIELDS} for c in commands]
    env.backend.register_commands(None, payloads)


@pytest.fixture
async def two_servers(bot_settings: Settings, handlers: Handlers) -> AsyncIterator[simcord.Env]:
    """The team's server and a stranger's, both already holding the bot when it starts."""
    env = simcord.Env(BriefBot(bot_settings, handlers))
    ours = env.create_guild("Newsroom", id=GUILD_ID)
    ours.create_text_channel("general")
    theirs = env.create_guild("Stranger's server", id=FOREIGN_ID)
    theirs.create_text_channel("general")
    await env.start()
    try:
        yield env
    finally:
        await env.shutdown()


async def test_commands_are_registered_in_the_allowed_server_and_nothing_globally(
    two_servers: simcord.Env,
) -> None:
    puts = _puts(two_servers)

    assert [r.path.split("/guilds/")[1] for r in puts if "/guilds/" in r.path] == [f"{GUILD_ID}/commands"]
    global_puts = [r for r in puts if "/guilds/" not in r.path]
    assert global_puts and all(r.json == [] for r in global_puts)
    assert two_servers.backend.commands.get(FOREIGN_ID) is None


async def test_a_server_not_in_the_list_is_left_at_start_and_logged(
    two_servers: simcord.Env, caplog: pytest.LogCaptureFixture
) -> None:
    left = [r.path for r in two_servers.http_requests if r.method == "DELETE"]

    assert left == [f"/users/@me/guilds/{FOREIGN_ID}"]
    assert [g.id for g in two_servers.bot.guilds] == [GUILD_ID]


async def test_a_server_that_adds_the_bot_later_is_left_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.client")

    stranger = world.env.create_guild("Stranger's server", id=FOREIGN_ID)
    await world.env.settle()

    assert [r.path for r in world.env.http_requests if r.method == "DELETE"] == [
        f"/users/@me/guilds/{stranger.id}"
    ]
    assert any(
        str(FOREIGN_ID) in r.getMessage() and "DISCORD_GUILD_IDS" in r.getMessage() for r in caplog.records
    )
    assert not [r for r in _puts(world.env) if f"/guilds/{FOREIGN_ID}/" in r.path]


@pytest.fixture
def stranger(world: World) -> tuple[simcord.GuildHandle, simcord.ChannelHandle, simcord.MemberActor]:
    """A stranger's server the bot cannot leave (Discord keeps failing), with stale global commands."""
    world.env.inject_error("DELETE", "/users/@me/guilds/*", times=None)
    _register_stale_global_commands(world.env)
    guild = world.env.create_guild("Stranger's server", id=FOREIGN_ID)
    channel = guild.create_text_channel("general")
    owners = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    admin = guild.add_member(world.env.create_user("eve"), roles=[owners])
    return guild, channel, admin


def _no_work(env: simcord.Env, since: int, embedder: FakeEmbedder, encoded: int) -> None:
    new = env.http_requests[since:]
    assert not [r for r in new if "/callback" in r.path or "/webhooks/" in r.path or "/messages" in r.path]
    assert embedder.encoded == encoded


async def test_a_slash_command_from_another_server_is_ignored_without_work(
    world: World, stranger: Any, fake_embedder: FakeEmbedder, corpus: Path
) -> None:
    _, channel, eve = stranger
    await world.env.settle()
    seen, encoded, files = len(world.env.http_requests), fake_embedder.encoded, sorted(corpus.rglob("*"))

    for name, options in [
        ("ask", {"question": RANSOMWARE, "private": True}),
        ("status", {}),
        ("reindex", {"mode": "full"}),
        ("briefing remove", {"briefing": "2025-02-06-meridale-health-ransomware"}),
        ("briefing list", {}),
    ]:
        result = await eve.slash(channel, name, **options)
        assert result.response is None and not result.followups, name

    _no_work(world.env, seen, fake_embedder, encoded)
    assert sorted(corpus.rglob("*")) == files


async def test_autocomplete_from_another_server_lists_nothing(world: World, stranger: Any) -> None:
    _, channel, eve = stranger

    asked = await eve.autocomplete(channel, "ask", "briefing", "", private=True)
    removing = await eve.autocomplete(channel, "briefing remove", "briefing", "")

    assert asked == [] and removing == []


async def test_the_message_command_from_another_server_is_ignored(
    world: World, stranger: Any, fake_embedder: FakeEmbedder
) -> None:
    _, channel, eve = stranger
    message = await eve.send(channel, IRAN)
    seen, encoded = len(world.env.http_requests), fake_embedder.encoded

    result = await eve.context_menu(channel, "Ask the briefings", message)

    assert result.response is None
    _no_work(world.env, seen, fake_embedder, encoded)


async def test_buttons_in_a_server_removed_from_the_list_do_nothing(
    world: World, fake_embedder: FakeEmbedder
) -> None:
    first = await world.alice.slash(world.channel, "ask", question=IRAN)
    assert first.response is not None
    world.env.inject_error("DELETE", "/users/@me/guilds/*", times=None)
    world.env.bot.settings.discord_guild_ids = [FOREIGN_ID]  # type: ignore[attr-defined]
    seen, encoded = len(world.env.http_requests), fake_embedder.encoded

    for label in ("More passages", "Show context 1"):
        result = await world.alice.click(first.response, label=label)
        assert result.response is None and not result.followups

    _no_work(world.env, seen, fake_embedder, encoded)


@pytest.mark.bot_settings(mention_replies=True)
async def test_mentions_in_another_server_are_ignored(world: World, stranger: Any) -> None:
    _, channel, eve = stranger
    me = world.env.bot.user
    assert me is not None

    await eve.send(channel, f"<@{me.id}> {IRAN}")

    assert channel.last_message is not None and channel.last_message.author.id == eve.id


# ---------------------------------------------------------------------------- direct messages


async def test_ask_in_direct_messages_is_off_by_default(world: World, fake_embedder: FakeEmbedder) -> None:
    assert world.env.backend.commands.get(None) == {}
    _register_stale_global_commands(world.env)
    encoded = fake_embedder.encoded

    result = await world.alice.user.slash("ask", question=IRAN)  # type: ignore[attr-defined]

    assert result.response is not None and result.response.content == DMS_OFF
    assert fake_embedder.encoded == encoded


@pytest.mark.bot_settings(allow_dms=True)
async def test_with_allow_dms_only_a_dm_ask_is_registered_globally(world: World) -> None:
    registered = list(world.env.backend.commands.get(None, {}).values())

    assert [c["name"] for c in registered] == ["ask"]
    assert registered[0]["contexts"] == [1]
    assert [o["name"] for o in registered[0]["options"]] == ["question", "briefing", "since"]


@pytest.mark.bot_settings(allow_dms=True)
async def test_ask_in_direct_messages_answers_from_public_briefings_only(world: World) -> None:
    result = await world.mod.user.slash("ask", question=RANSOMWARE)  # type: ignore[attr-defined]

    reply = result.followups[-1] if result.followups else result.response
    assert reply is not None and reply.embeds
    everything = " ".join(shown_text(f"{e.description} {[f.value for f in e.fields]}") for e in reply.embeds)
    assert RESTRICTED_TITLE not in everything and "Glasswing" not in everything
    offered = await world.mod.user.autocomplete("ask", "briefing", "ransom")  # type: ignore[attr-defined]
    assert offered == []
    assert all(RESTRICTED_TITLE not in str(p) for p in message_payloads(world.env))


# ---------------------------------------------------------------------------- settings


def test_run_refuses_to_start_without_discord_guild_ids(
    bot_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = bot_settings.model_copy(update={"discord_guild_ids": [], "discord_token": SecretStr("x" * 10)})

    assert run_bot(settings) == 2
    err = capsys.readouterr().err
    assert "DISCORD_GUILD_IDS" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "value", ["Newsroom", "12345", "https://discord.com/channels/@me/2222222222222222222", "#general"]
)
def test_junk_in_discord_guild_ids_gives_one_line_naming_it(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCORD_GUILD_IDS", value)

    assert cli.main(["status"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("briefbot: DISCORD_GUILD_IDS") and len(err.splitlines()) == 1


def test_a_pasted_channel_link_names_its_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "DISCORD_GUILD_IDS", "https://discord.com/channels/1111111111111111111/2222222222222222222"
    )

    assert Settings(_env_file=None).guild_ids == {1111111111111111111}  # type: ignore[call-arg]


def test_several_servers_and_the_deprecated_single_id_all_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_GUILD_IDS", " 1111111111111111111 , 3333333333333333333,")
    monkeypatch.setenv("DISCORD_GUILD_ID", "4444444444444444444")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.guild_ids == {1111111111111111111, 3333333333333333333, 4444444444444444444}


def test_a_json_style_list_of_server_ids_is_understood(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_GUILD_IDS", '["1111111111111111111", 3333333333333333333]')

    assert Settings(_env_file=None).guild_ids == {1111111111111111111, 3333333333333333333}  # type: ignore[call-arg]

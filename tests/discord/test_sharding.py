"""The bot as one of several processes (``BRIEFBOT_SHARD_COUNT`` / ``BRIEFBOT_SHARD_IDS``),
through simcord's sharded gateway: each process registers the commands of the servers on its
shards only, the one holding shard 0 the global ones, and a corpus shared by every server is
kept current by that process alone, so two processes never write the same thing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import discord
import pytest
import simcord

from bot.client import ShardedBriefBot, make_bot
from bot.handlers import Handlers
from bot.settings import Settings
from index.service import BriefingService
from tests.discord.helpers import reply_of, shown_text

ON_1_OF_2, ON_0_OF_2 = 1_111_111_111_111_111_111, 1_333_333_333_333_333_333
NEW_BRIEFING = """---
title: "Port of Saltmere reopens berth 4"
date: 2025-02-28
---

## Reopening

Berth 4 at the Port of Saltmere reopened on 27 February after the crane collapse, with two new cranes.
"""


def _puts(env: simcord.Env) -> list[str]:
    return [r.path for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]


async def _process(settings: Settings, handlers: Handlers, shard_ids: list[int]) -> simcord.Env:
    settings.discord_guild_ids = [ON_1_OF_2, ON_0_OF_2]
    settings.shard_count, settings.shard_ids = 2, shard_ids
    env = simcord.Env(make_bot(settings, handlers))
    env.create_guild("Newsroom", id=ON_1_OF_2).create_text_channel("general")
    env.create_guild("Farrow desk", id=ON_0_OF_2).create_text_channel("general")
    await env.start()
    return env


@pytest.fixture
async def process(
    bot_settings: Settings, handlers: Handlers
) -> AsyncIterator[Callable[[list[int]], Awaitable[simcord.Env]]]:
    """Starts the bot as the process holding ``shard_ids`` of 2 shards."""
    started: list[simcord.Env] = []

    async def start(shard_ids: list[int]) -> simcord.Env:
        started.append(await _process(bot_settings, handlers, shard_ids))
        return started[-1]

    try:
        yield start
    finally:
        for env in started:
            await env.shutdown()


Process = Callable[[list[int]], Awaitable[simcord.Env]]


async def test_a_shard_count_makes_the_bot_a_sharded_client_of_its_shards(process: Process) -> None:
    bot = (await process([1])).bot

    assert isinstance(bot, ShardedBriefBot)
    assert bot.shard_count == 2 and bot.shard_ids == [1]
    assert [g.id for g in bot.guilds] == [ON_1_OF_2]


async def test_a_process_registers_the_commands_of_the_servers_on_its_shards_only(process: Process) -> None:
    env = await process([1])

    assert _puts(env) == [f"/applications/{env.backend.application_id}/guilds/{ON_1_OF_2}/commands"]


async def test_the_process_holding_shard_0_registers_the_global_commands(process: Process) -> None:
    env = await process([0])

    app_id = env.backend.application_id
    assert _puts(env) == [
        f"/applications/{app_id}/commands",
        f"/applications/{app_id}/guilds/{ON_0_OF_2}/commands",
    ]


@pytest.mark.bot_settings(reindex_every_minutes=5)
async def test_a_shared_corpus_is_kept_current_by_the_process_holding_shard_0_only(
    process: Process, service: BriefingService, corpus: Path
) -> None:
    env = await process([1])
    version = service.layout.current_version()
    (corpus / "2025-02-28-saltmere-berth.md").write_text(NEW_BRIEFING, encoding="utf-8")

    await env.advance_time(3 * 5 * 60)

    assert service.layout.current_version() == version


@pytest.mark.bot_settings(reindex_every_minutes=5)
async def test_the_process_holding_shard_0_runs_the_shared_corpuss_schedule(
    process: Process, service: BriefingService, corpus: Path
) -> None:
    env = await process([0])
    (corpus / "2025-02-28-saltmere-berth.md").write_text(NEW_BRIEFING, encoding="utf-8")

    await env.advance_time(5 * 60 + 1)

    assert any(m.title == "Port of Saltmere reopens berth 4" for m in service.briefings())


async def test_status_says_which_shards_the_process_serves(process: Process) -> None:
    env = await process([1])
    newsroom = env.guild  # on shard 1
    editors = newsroom.create_role("Editors", permissions=discord.Permissions(manage_guild=True))
    mo = newsroom.add_member(env.create_user("mo"), roles=[editors])

    result = await mo.slash(newsroom.create_text_channel("ops"), "status")

    on_discord = shown_text(reply_of(result).embeds[1].description or "")
    assert "Process: shard 1 of 2 (BRIEFBOT_SHARD_IDS)" in on_discord
    assert "the global ones are registered by the process holding shard 0" in on_discord

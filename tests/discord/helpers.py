"""Helpers for the Discord tests: the test guild, reading what Discord shows, sending together."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import simcord

from bot.client import BriefBot
from bot.handlers import Handlers
from bot.settings import Settings
from index.service import BriefingService


@dataclass
class World:
    """One guild as the tests need it."""

    env: simcord.Env
    guild: simcord.GuildHandle
    channel: simcord.ChannelHandle
    modlog: simcord.ChannelHandle
    alice: simcord.MemberActor  # an ordinary member
    mod: simcord.MemberActor  # has Manage Server


def fresh_bot(settings: Settings, service: BriefingService) -> BriefBot:
    """A new bot process over the same folders: new handlers, a new service, nothing shared."""
    config = service.config
    new_service = BriefingService(config, service.embedder, service.calibration, today=service._today)
    return BriefBot(settings, Handlers(new_service))


_TOKEN = re.compile(r"\\(.)|\*\*", re.DOTALL)


def shown_text(markdown: str) -> str:
    """What Discord displays for an escaped quote: escapes resolved, bold markers gone."""
    return _TOKEN.sub(lambda m: m.group(1) or "", markdown)


def without_marks(text: str) -> list[str]:
    """The verbatim pieces of a possibly trimmed quote (the "(trimmed) …" marks removed)."""
    return [p.strip() for p in re.split(r"\s*…\s*\(trimmed\)|\(trimmed\)\s*…\s*", text) if p.strip()]


def message_payloads(env: simcord.Env) -> list[dict[str, Any]]:
    """The JSON of every request that creates or edits a message (content, embeds or components)."""
    out: list[dict[str, Any]] = []
    for req in env.http_requests:
        body = req.json
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            body = body["data"]  # interaction callback: {"type": 4, "data": {...}}
        if isinstance(body, dict) and ({"content", "embeds", "components"} & body.keys()):
            out.append(body)
    return out


async def slash_together(
    env: simcord.Env, calls: list[tuple[simcord.MemberActor, simcord.ChannelHandle, str, dict[str, Any]]]
) -> list[simcord.InteractionResult]:
    """Deliver several slash commands at the same instant, as two people clicking at once would.

    simcord's actors wait for the bot to finish each interaction, so this builds the payloads
    with simcord's own builders and emits them back to back before letting the bot run.
    """
    from simcord import interactions as wire

    pending = []
    for actor, channel, name, options in calls:
        root = env.backend.find_command(name, actor.guild.id, type=1)
        assert root is not None, f"/{name} was not synced"
        built, resolved = wire.build_options(actor, name, root, options, channel_id=channel.id)
        data: dict[str, Any] = {"id": root["id"], "name": root["name"], "type": 1, "options": built}
        if resolved:
            data["resolved"] = resolved
        pending.append(
            wire.base_payload(
                env.backend,
                type=2,
                channel_id=channel.id,
                guild_id=actor.guild.id,
                user_id=actor.id,
                data=data,
            )
        )
    for _, payload in pending:
        env.backend.emit("INTERACTION_CREATE", payload)
    await env.settle()
    return [simcord.InteractionResult(env, record) for record, _ in pending]

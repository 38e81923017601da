"""Helpers for the Discord tests: the test guild, reading what Discord shows, sending together."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import discord
import simcord

from bot.client import BriefBot
from bot.handlers import Handlers
from bot.settings import Settings
from bot.trash import Trash
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


def populate(env: simcord.Env, guild_id: int, name: str, *, suffix: str = "") -> World:
    """A server as the tests need it (after the bot started, so it can be given access): a public
    channel, a mod-log only moderators (and the bot) read, a member and a moderator."""
    guild = env.create_guild(name, id=guild_id)
    channel = guild.create_text_channel("general")
    mods = guild.create_role("Editors-in-chief", permissions=discord.Permissions(manage_guild=True))
    hidden, shown = (
        discord.PermissionOverwrite(view_channel=False),
        discord.PermissionOverwrite(view_channel=True),
    )
    me = guild.me
    assert me is not None
    modlog = guild.create_text_channel(
        "mod-log", overwrites={guild.default_role: hidden, mods: shown, me: shown}
    )
    alice = guild.add_member(env.create_user("alice" + suffix))
    mod = guild.add_member(env.create_user("mo" + suffix), roles=[mods])
    return World(env, guild, channel, modlog, alice, mod)


def fresh_bot(settings: Settings, service: BriefingService) -> BriefBot:
    """A new bot process over the same folders: new handlers, a new service, nothing shared."""
    config = service.config
    new_service = BriefingService(config, service.embedder, service.calibration, today=service._today)
    return BriefBot(settings, Handlers(new_service, Trash(settings.trash_folder, settings.trash_days)))


def reply_of(result: simcord.InteractionResult) -> simcord.ResponseMessage:
    """The last thing the person was shown for an interaction."""
    message = result.followups[-1] if result.followups else result.response
    assert message is not None, result
    return message


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


def units(text: str) -> int:
    """Length as Discord counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def limit_problems(body: dict[str, Any]) -> list[str]:
    """Every way a message payload breaks Discord's limits (an empty list when it fits)."""
    problems: list[str] = []
    if units(body.get("content") or "") > 2000:
        problems.append("content over 2000")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        problems.append("more than 10 embeds")
    total = 0
    for e in embeds:
        sizes = {
            "title": (units(e.get("title") or ""), 256),
            "description": (units(e.get("description") or ""), 4096),
            "footer": (units((e.get("footer") or {}).get("text") or ""), 2048),
            "author": (units((e.get("author") or {}).get("name") or ""), 256),
        }
        for f in e.get("fields") or []:
            sizes[f"field {f['name']!r} name"] = (units(f["name"]), 256)
            sizes[f"field {f['name']!r} value"] = (units(f["value"]), 1024)
        if len(e.get("fields") or []) > 25:
            problems.append("more than 25 fields")
        for what, (n, most) in sizes.items():
            if n > most:
                problems.append(f"{what}: {n} > {most}")
            total += n
    if total > 6000:
        problems.append(f"embeds total {total} > 6000")
    rows = body.get("components") or []
    if len(rows) > 5:
        problems.append("more than 5 rows")
    for row in rows:
        items = row.get("components") or []
        if len(items) > 5:
            problems.append("more than 5 items in a row")
        for c in items:
            if units(c.get("custom_id") or "") > 100:
                problems.append(f"custom_id over 100: {c['custom_id']}")
            if units(c.get("label") or "") > 80:
                problems.append(f"label over 80: {c['label']}")
    return problems

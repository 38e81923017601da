"""The Discord side of ``/status``, in plain words: where the commands are, who moderates,
whether the mod-log works (and why not), whose corpus answers, which process serves the
server, and what runs on its own (watch, schedule, reports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.checks import modlog_exposure

if TYPE_CHECKING:
    from bot.client import BriefBot
    from bot.tenants import Tenant

MODLOG_PERMISSIONS = ("view_channel", "send_messages", "embed_links", "attach_files")
_WORDS = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
}


def commands_line(bot: BriefBot, guild: discord.Guild | None) -> str:
    if guild is None:
        return "Commands: /status is for servers."
    count = bot.synced.get(guild.id)
    if count is None:
        return "Commands: not registered in this server yet (it is in DISCORD_GUILD_IDS; they are when Discord allows it)."
    elsewhere = len(bot.synced) - 1
    also = (
        f", and in {elsewhere} other server{'s' if elsewhere != 1 else ''} of DISCORD_GUILD_IDS"
        if elsewhere
        else ""
    )
    if not bot.plan.owns_direct_messages:
        dms = "; the global ones are registered by the process holding shard 0"
    else:
        dms = "; /ask in direct messages (BRIEFBOT_ALLOW_DMS)" if bot.synced_global else "; none globally"
    return f"Commands: {count} registered in this server{also}{dms}."


def moderators_line(bot: BriefBot, guild: discord.Guild | None) -> str:
    roles = bot.settings.moderator_roles
    if not roles:
        return "Moderators: members with Manage Server (no BRIEFBOT_MODERATOR_ROLES)."
    here = {r.name.casefold() for r in guild.roles} if guild is not None else set()
    named = ", ".join(r if r.casefold() in here else f"{r} (no such role here)" for r in roles)
    every = " (the same names in every server)" if len(bot.settings.guild_ids) > 1 else ""
    return (
        f"Moderators: members with Manage Server, and the roles {named}{every}. Those roles see the "
        "moderator commands once a server admin allows them in Server Settings → Integrations → briefbot."
    )


async def modlog_line(bot: BriefBot, tenant: Tenant) -> str:
    """Whether reports can reach the mod-log channel, and if not, why."""
    configured = bot.settings.modlog_channels
    if not configured:
        return "Mod-log: not set (BRIEFBOT_MODLOG_CHANNEL_ID); reports go only to whoever runs a command."
    if tenant.guild_id is None:
        return await _channel_line(bot, tenant, configured[0])
    try:
        here = await bot.modlog_channels(tenant)
    except discord.HTTPException:  # only the shared corpus's lookups raise
        here = []
    if not here:
        return (
            "Mod-log: none in this server (each server has its own corpus, so its reports go only "
            "to a channel of BRIEFBOT_MODLOG_CHANNEL_ID or BRIEFBOT_MODLOG_CHANNEL_IDS in it); "
            "reports go only to whoever runs a command."
        )
    return await _channel_line(bot, tenant, here[0].id)


async def _channel_line(bot: BriefBot, tenant: Tenant, channel_id: int) -> str:
    channel = bot.get_channel(channel_id)
    if channel is None:
        try:
            channel = await bot.fetch_channel(channel_id)
        except discord.NotFound:
            return (
                f"Mod-log: not reachable: no channel {channel_id} exists (check BRIEFBOT_MODLOG_CHANNEL_ID)."
            )
        except discord.Forbidden:
            return f"Mod-log: not reachable: the bot cannot see channel {channel_id}."
        except discord.HTTPException as exc:
            return f"Mod-log: not reachable: Discord said {exc.status} for channel {channel_id}."
    if not isinstance(channel, discord.abc.GuildChannel) or not isinstance(channel, discord.abc.Messageable):
        return f"Mod-log: not reachable: channel {channel_id} cannot hold messages."
    me = channel.guild.me
    perms = channel.permissions_for(me)
    missing = [_WORDS[p] for p in MODLOG_PERMISSIONS if not getattr(perms, p)]
    if missing:
        return f"Mod-log: #{channel.name} is missing the bot's permission to {', '.join(missing)}."
    exposure = modlog_exposure(channel, bot.settings)
    if exposure is not None:
        return f"Mod-log: #{channel.name}, but {exposure}, so reports are not posted there."
    if tenant.modlog_problem:
        return f"Mod-log: #{channel.name}, but {tenant.modlog_problem}."
    return f"Mod-log: #{channel.name}, reachable."


def corpus_line(bot: BriefBot) -> str:
    if bot.settings.corpus_per_server:
        return "Corpus: this server's own (BRIEFBOT_CORPUS_PER_SERVER); answers never come from another server's."
    n = len(bot.settings.guild_ids)
    if n > 1:
        return (
            f"Corpus: one shared by the {n} servers of DISCORD_GUILD_IDS (BRIEFBOT_CORPUS_PER_SERVER is off)."
        )
    return "Corpus: one for the server (BRIEFBOT_CORPUS_PER_SERVER is off)."


def process_line(bot: BriefBot) -> str | None:
    """Which shards this process is, when the bot runs as several (else nothing to say)."""
    plan = bot.plan
    if not plan.sharded:
        return None
    jobs = (
        "it runs this server's watch, schedule and weekly report"
        if bot.settings.corpus_per_server or plan.owns_direct_messages
        else "the process holding shard 0 runs the shared corpus's watch, schedule and weekly report"
    )
    return f"Process: {plan.describe()} (BRIEFBOT_SHARD_IDS); {jobs}."


def automation_lines(bot: BriefBot) -> list[str]:
    s = bot.settings
    lines = [
        f"Watching the corpus folder: on (reindex {s.watch_debounce_seconds:g} s after changes settle)."
        if s.watch
        else "Watching the corpus folder: off (BRIEFBOT_WATCH)."
    ]
    if s.reindex_every_minutes:
        nxt = bot.next_scheduled_reindex()
        when = f"; next around {nxt:%H:%M} UTC" if nxt is not None else ""
        lines.append(f"Scheduled reindex: every {s.reindex_every_minutes:g} minutes{when}.")
    else:
        lines.append("Scheduled reindex: off (BRIEFBOT_REINDEX_EVERY_MINUTES).")
    lines.append(
        "Weekly coverage-gaps report to the mod-log: "
        + ("on." if s.gaps_weekly else "off (BRIEFBOT_GAPS_WEEKLY).")
    )
    if s.thread_channels:
        names = ", ".join(_channel_name(bot, c) for c in s.thread_channels)
        lines.append(f"Answers open a thread in: {names}.")
    lines.append(
        f"Questions and feedback are kept {s.keep_questions_days} days; removed briefings {s.trash_days} days."
    )
    return lines


def _channel_name(bot: BriefBot, channel_id: int) -> str:
    channel = bot.get_channel(channel_id)
    return f"#{channel.name}" if isinstance(channel, discord.abc.GuildChannel) else f"channel {channel_id}"


async def discord_lines(bot: BriefBot, tenant: Tenant, guild: discord.Guild | None) -> list[str]:
    """Everything ``/status`` says about the Discord side (``tenant``: the corpus answering here)."""
    process = process_line(bot)
    return [
        commands_line(bot, guild),
        moderators_line(bot, guild),
        await modlog_line(bot, tenant),
        corpus_line(bot),
        *([process] if process else []),
        *automation_lines(bot),
    ]

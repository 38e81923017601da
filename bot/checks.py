"""Who may do what, and how a refusal or an error reaches the person (one short ephemeral line).

Server scope comes first: ``interaction_in_scope`` and ``message_in_scope`` are the one test of
"is this from a server (or DM) this bot serves"; the command tree, every button
(``bot.views._Button``) and the mention listener call them before doing anything else. A
server served by another process (``BRIEFBOT_SHARD_IDS``) is out of scope here too, and so are
direct messages when each server has its own corpus (there is none to answer from).

``default_permissions(manage_guild=True)`` only hides moderator commands; the ``is_moderator``
check below is what enforces them, so a server that shows the commands to everyone is safe.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import discord
from discord import app_commands

from bot.errors import UserFacingError
from bot.settings import Settings
from bot.sharding import ShardPlan
from bot.tenants import NO_CORPUS_IN_DMS
from index.search import Viewer

if TYPE_CHECKING:
    from bot.client import BriefBot
    from bot.tenants import Tenant

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
MODERATOR_REFUSAL = ":x: You need the Manage Server permission or a moderator role"
GENERIC_FAILURE = "Something went wrong; it has been logged."
NO_ANSWER = "No answer here (the reason was shown to the asker)."
PUBLIC_DEFER = "briefbot_public_defer"  # Interaction.extras key: the deferred reply is public
DMS_OFF = "Briefbot answers only in its team's server."

T = TypeVar("T")


class NotModerator(app_commands.CheckFailure):
    """The member has neither Manage Server nor a moderator role."""


def app(interaction: discord.Interaction[Any]) -> BriefBot:
    """The bot behind an interaction, typed."""
    return cast("BriefBot", interaction.client)


def tenant_of(interaction: discord.Interaction[Any]) -> Tenant:
    """The corpus that answers ``interaction``: its server's (or the shared one). With a corpus
    per server, a direct message has none: a ``UserFacingError`` says so."""
    return app(interaction).tenant(interaction.guild_id)


# ---------------------------------------------------------------------------- server scope

_last_scope_log: dict[int | None, float] = {}


def _note_out_of_scope(guild_id: int | None, what: str) -> None:
    """Log a refused interaction or message, at most once a minute per server (a flood stays quiet)."""
    now = time.monotonic()
    if now - _last_scope_log.get(guild_id, -1e9) < 60:
        return
    if len(_last_scope_log) > 1000:
        _last_scope_log.clear()
    _last_scope_log[guild_id] = now
    where = f"server {guild_id}" if guild_id is not None else "a direct message"
    log.warning("ignored %s from %s: not a server in DISCORD_GUILD_IDS", what, where)


def is_bot_dm(channel: object) -> bool:
    """A direct message between one person and the bot (not a group DM)."""
    return getattr(channel, "type", None) is discord.ChannelType.private


def in_scope(guild_id: int | None, channel: object, settings: Settings) -> bool:
    """From a server this process serves, or (with ``allow_dms``, and one corpus for every
    server) from a direct message to the bot."""
    if guild_id is not None:
        return guild_id in settings.guild_ids and ShardPlan.of(settings).owns(guild_id)
    return settings.allow_dms and not settings.corpus_per_server and is_bot_dm(channel)


def dm_refusal(settings: Settings) -> str:
    """The line for a command in a direct message that is not answered."""
    return NO_CORPUS_IN_DMS if settings.allow_dms and settings.corpus_per_server else DMS_OFF


def interaction_in_scope(interaction: discord.Interaction[Any]) -> bool:
    """Whether to act on ``interaction`` at all; refusals are logged, never answered in a foreign server."""
    if in_scope(interaction.guild_id, interaction.channel, app(interaction).settings):
        return True
    kind = interaction.type.name
    _note_out_of_scope(interaction.guild_id, f"an interaction ({kind})")
    return False


def message_in_scope(message: discord.Message, settings: Settings) -> bool:
    """Whether to read ``message`` at all (mention replies)."""
    guild_id = message.guild.id if message.guild is not None else None
    if in_scope(guild_id, message.channel, settings):
        return True
    _note_out_of_scope(guild_id, "a message")
    return False


async def refuse_out_of_scope(interaction: discord.Interaction[Any]) -> None:
    """Nothing at all for a foreign server; one line for a direct message when DMs are off."""
    if interaction.guild_id is not None or interaction.type is discord.InteractionType.autocomplete:
        return
    text = dm_refusal(app(interaction).settings)
    try:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException:
        log.debug("could not answer a direct message", exc_info=True)


# ---------------------------------------------------------------------------- moderators and audience


def member_is_moderator(user: discord.User | discord.Member, settings: Settings) -> bool:
    """Manage Server (or Administrator) in this guild, or a role named in ``moderator_roles``."""
    if not isinstance(user, discord.Member):
        return False
    perms = user.guild_permissions
    if perms.manage_guild or perms.administrator:
        return True
    return any(role_is_moderator(role, settings) for role in user.roles)


def role_is_moderator(role: discord.Role, settings: Settings) -> bool:
    """A role whose members are all moderators: Manage Server, Administrator, or named in settings
    (never @everyone, whatever the settings say: that would make every member a moderator)."""
    if role.is_default():
        return False
    perms = role.permissions
    wanted = {name.casefold() for name in settings.moderator_roles}
    return perms.manage_guild or perms.administrator or role.name.casefold() in wanted


def modlog_exposure(channel: object, settings: Settings) -> str | None:
    """Why ``channel`` must not receive reports naming restricted briefings, or None when only
    moderators can read it (judged by its roles and member overwrites, failing closed)."""
    if not isinstance(channel, (discord.abc.GuildChannel, discord.Thread)):
        return "it is not a server channel"
    guild = channel.guild
    if guild.id not in settings.guild_ids:
        return "it is in a server that is not in DISCORD_GUILD_IDS"
    readers = [
        role.name
        for role in guild.roles
        if channel.permissions_for(role).read_messages and not role_is_moderator(role, settings)
    ]
    overwrites = channel.parent.overwrites if isinstance(channel, discord.Thread) and channel.parent else {}
    if isinstance(channel, discord.abc.GuildChannel):
        overwrites = channel.overwrites
    for target, overwrite in overwrites.items():
        if isinstance(target, discord.Role) or overwrite.read_messages is not True:
            continue
        if not (isinstance(target, discord.Member) and member_is_moderator(target, settings)):
            readers.append(f"member {getattr(target, 'id', '?')}")
    if readers:
        shown = ", ".join(readers[:5]) + (" …" if len(readers) > 5 else "")
        return f"people who are not moderators can read it ({shown})"
    return None


def is_moderator() -> Callable[[T], T]:
    """An app-command check: moderators only, in a server."""

    async def predicate(interaction: discord.Interaction[Any]) -> bool:
        if interaction.guild is None or not member_is_moderator(interaction.user, app(interaction).settings):
            raise NotModerator(MODERATOR_REFUSAL)
        return True

    return app_commands.check(predicate)


def require_moderator(interaction: discord.Interaction[Any]) -> None:
    """For buttons and menus under moderator commands: refuse anyone else who clicks them."""
    if interaction.guild is None or not member_is_moderator(interaction.user, app(interaction).settings):
        raise NotModerator(MODERATOR_REFUSAL)


def viewer_for(interaction: discord.Interaction[Any], *, public: bool) -> Viewer:
    """Who is asking, for audience checks; ``public`` when the whole channel will see the answer."""
    return viewer_of(interaction.user, app(interaction).settings, public=public)


def viewer_of(user: discord.User | discord.Member, settings: Settings, *, public: bool) -> Viewer:
    """The ``Viewer`` for a Discord user: their role names, and whether they moderate.

    Outside a server (a direct message) nobody has roles: public briefings only."""
    if not isinstance(user, discord.Member):
        return Viewer(public=True)
    roles = frozenset(r.name for r in user.roles if not r.is_default())
    return Viewer(roles=roles, is_moderator=member_is_moderator(user, settings), public=public)


def error_text(error: BaseException) -> str | None:
    """The line a person sees for ``error``; None when it is a bug (shown as a generic line)."""
    original = getattr(error, "original", None)
    if isinstance(original, BaseException):
        error = original
    if isinstance(error, UserFacingError):
        return error.message
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"You are asking quickly: try again in {max(1, round(error.retry_after))} s."
    if isinstance(error, app_commands.CheckFailure):
        return MODERATOR_REFUSAL
    return None


async def report_error(
    interaction: discord.Interaction[Any], error: BaseException, *, log_bugs: bool = True
) -> None:
    """Tell the person in one short ephemeral line; log bugs with their full trace."""
    text = error_text(error)
    if text is None:
        if log_bugs:
            log.error("error in %s", _describe(interaction), exc_info=error)
        text = GENERIC_FAILURE
    else:
        log.info("refused %s: %s", _describe(interaction), text)
    if interaction.type is discord.InteractionType.autocomplete:
        return
    try:
        await send_ephemeral(interaction, text)
    except discord.HTTPException:
        log.warning("could not tell the user about an error in %s", _describe(interaction), exc_info=True)


async def send_ephemeral(interaction: discord.Interaction[Any], text: str) -> None:
    """An ephemeral reply, whatever has been sent so far (a public "thinking…" is removed first).

    The first follow-up after a deferred reply fills that placeholder, whatever its own flags:
    after a public defer, the text is only sent once the placeholder has been completed with a
    neutral line. If Discord refuses that, the person is not told (it is logged): the text, which
    may name a restricted briefing, never goes into a public message."""
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    if await drop_public_placeholder(interaction):
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def drop_public_placeholder(interaction: discord.Interaction[Any]) -> bool:
    """Remove a public "thinking…" placeholder, so that the next follow-up can be ephemeral.

    False when the placeholder is still pending (Discord refused to complete it): a follow-up
    would then fill it, in public, whatever its own flags, so only public-safe text may follow."""
    if not interaction.extras.pop(PUBLIC_DEFER, False):
        return True
    # Complete the placeholder with a neutral line and delete it; a follow-up is then a new
    # message, and may be ephemeral.
    try:
        await interaction.edit_original_response(content=NO_ANSWER, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException:
        log.warning(
            "could not clear a public placeholder in %s; the reply was withheld", _describe(interaction)
        )
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
        return False
    try:
        await interaction.delete_original_response()
    except discord.HTTPException:
        log.debug("public placeholder already gone", exc_info=True)
    return True


async def guarded(interaction: discord.Interaction[Any], action: Callable[[], Awaitable[None]]) -> None:
    """Run a button's action; people see refusals and errors, bugs go on to the view's logger."""
    try:
        await action()
    except Exception as exc:
        bug = error_text(exc) is None
        await report_error(interaction, exc, log_bugs=False)
        if bug:
            raise


def _describe(interaction: discord.Interaction[Any]) -> str:
    command = interaction.command.qualified_name if interaction.command else None
    custom_id = interaction.data.get("custom_id") if interaction.data else None
    return f"{command or custom_id or interaction.type.name} by {interaction.user} ({interaction.user.id})"

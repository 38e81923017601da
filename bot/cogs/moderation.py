"""Moderating: ``/reindex``, ``/briefing add|remove|restore|list`` and ``/status``.

Moderators only: ``default_permissions(manage_guild=True)`` hides the commands from others and
the ``is_moderator`` check enforces it (Manage Server, or a role in ``moderator_roles``); the
buttons and menus these commands show check again when clicked. Reports go to the person and,
when something changed, to the mod-log channel. A removal asks first and keeps the file in the
trash; a rollback offers the kept versions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Self

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds, render
from bot.checks import (
    NO_MENTIONS,
    app,
    guarded,
    interaction_in_scope,
    is_moderator,
    member_is_moderator,
    refuse_out_of_scope,
    require_moderator,
    tenant_of,
)
from bot.discord_status import discord_lines
from bot.errors import UserFacingError
from bot.handlers import check_upload
from bot.reader import briefing_key
from bot.views import PublishAnywayButton, _Button, briefing_options, briefings_list
from index.models import ReindexReport
from index.search import Viewer
from index.service import KeptVersion

if TYPE_CHECKING:
    from bot.client import BriefBot
    from bot.tenants import Tenant

log = logging.getLogger(__name__)

MODERATORS = discord.Permissions(manage_guild=True)
EVERYTHING = Viewer(is_moderator=True)


class MessageProgress:
    """A reindex ``Progress`` callback that edits one message, at most once per ``interval``.

    The index build calls it from its worker thread; it only records the latest numbers and
    wakes ``run``, which does the editing on the event loop.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, edit: Callable[[str], Awaitable[Any]], interval: float = 1.0
    ) -> None:
        self._loop = loop
        self._edit = edit
        self.interval = interval
        self._lock = threading.Lock()
        self._latest: tuple[str, int, int] | None = None
        self._wake = asyncio.Event()
        self.edits = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            pending = self._latest is not None
            self._latest = (stage, done, total)
        if not pending:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop has closed (shutting down): the build carries on
                log.debug("progress after the event loop closed", exc_info=True)

    async def run(self) -> None:
        """Edit the message with the latest progress until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._lock:
                latest, self._latest = self._latest, None
            if latest is None:
                continue
            try:
                await self._edit(embeds.progress_text(*latest))
                self.edits += 1
            except discord.HTTPException as exc:
                if exc.status in (401, 404):  # the interaction's token is gone (15 minutes on)
                    log.info("reindex progress can no longer be shown (%s)", exc.status)
                    return
                log.warning("could not show reindex progress", exc_info=True)
            await asyncio.sleep(self.interval)


@contextlib.asynccontextmanager
async def showing_progress(interaction: discord.Interaction[Any]) -> Any:
    """A ``MessageProgress`` editing the interaction's (deferred) reply while the block runs."""

    async def edit(text: str) -> None:
        await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)

    progress = MessageProgress(asyncio.get_running_loop(), edit)
    pump = asyncio.create_task(progress.run(), name="briefbot-progress")
    try:
        yield progress
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump


class ModerationCog(commands.Cog):
    """Keeping the corpus and the index in order."""

    briefing = app_commands.Group(
        name="briefing",
        description="Add, remove or list briefing files (moderators)",
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=MODERATORS,
    )

    def __init__(self, bot: BriefBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    @app_commands.command(name="reindex", description="Update the index from the corpus folder (moderators)")
    @app_commands.describe(
        mode="update: changed files only; full: re-embed everything; rollback: pick a kept version"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @is_moderator()
    async def reindex(
        self, interaction: discord.Interaction[Any], mode: Literal["update", "full", "rollback"] = "update"
    ) -> None:
        if mode == "rollback":  # offer the kept versions rather than guess which one
            await interaction.response.defer(ephemeral=True, thinking=True)
            content, view = await rollback_picker(tenant_of(interaction))
            await interaction.followup.send(content, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await self.run_reindex(interaction, mode)

    async def run_reindex(
        self, interaction: discord.Interaction[Any], mode: str, *, confirmed_loss: int | None = None
    ) -> None:
        """A reindex for a moderator: progress in the reply, then the report (and the mod-log).
        ``confirmed_loss`` is the moderator's confirmation that that many briefings may go (no more:
        if more would go by now, it is refused again)."""
        who = _who(interaction)
        tenant = tenant_of(interaction)
        with tenant.gate.hold(who):
            await interaction.response.defer(ephemeral=True, thinking=True)
            async with showing_progress(interaction) as progress:
                report = await tenant.handlers.reindex(
                    progress=progress, who=who, full=mode == "full", confirmed_loss=confirmed_loss
                )
        await finish(self.bot, interaction, report, who, None, mode=mode)

    @app_commands.command(
        name="status", description="What is indexed, the model, and the last reindex (moderators)"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @is_moderator()
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        tenant = tenant_of(interaction)
        status = await tenant.handlers.status()
        discord_side = embeds.lines_embed(
            "On Discord", await discord_lines(self.bot, tenant, interaction.guild)
        )
        await interaction.followup.send(
            embeds=[embeds.status_embed(status), discord_side], ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @briefing.command(
        name="add", description="Add a briefing file (.md, .txt, .pdf, .docx, .html, .eml) and index it"
    )
    @app_commands.describe(file="The briefing file", replace="Replace a briefing file of the same name")
    @is_moderator()
    async def add(
        self, interaction: discord.Interaction[Any], file: discord.Attachment, replace: bool = False
    ) -> None:
        limit = self.bot.settings.max_upload_kb * 1024
        name = check_upload(file.filename, file.size, limit, file.content_type)  # before downloading
        who = _who(interaction)
        tenant = tenant_of(interaction)
        with tenant.gate.hold(who):
            await interaction.response.defer(ephemeral=True, thinking=True)
            data = await file.read()
            async with showing_progress(interaction) as progress:
                report = await tenant.handlers.add_briefing(
                    name, data, who, replace=replace, max_bytes=limit, progress=progress
                )
        verb = "replaced" if replace else "added"
        await finish(
            self.bot, interaction, report, who, f"{interaction.user.mention} {verb} {embeds.escape(name)}."
        )

    @briefing.command(name="remove", description="Remove a briefing file (kept in the trash for a while)")
    @app_commands.describe(briefing="The briefing to remove")
    @is_moderator()
    async def remove(self, interaction: discord.Interaction[Any], briefing: str) -> None:
        handlers = tenant_of(interaction).handlers
        meta = next((m for m in await handlers.briefings() if m.briefing_id == briefing), None)
        if meta is None:
            raise UserFacingError(
                f"No briefing called “{briefing[:80]}”. Pick one from the list as you type."
            )
        days = self.bot.settings.trash_days
        text = (
            f"Remove “{meta.title}” ({meta.path})? It leaves the corpus folder and the index; a copy is "
            f"kept in the trash for {days} days, and `/briefing restore` brings it back."
        )
        view = discord.ui.View(timeout=None)
        view.add_item(RemoveButton(briefing_key(meta.briefing_id), confirm=True))
        view.add_item(RemoveButton(briefing_key(meta.briefing_id), confirm=False))
        await interaction.response.send_message(
            embeds.clip(text, embeds.CONTENT_MAX), view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @briefing.command(name="restore", description="Put a removed briefing back and index it")
    @app_commands.describe(removed="The removed briefing (kept in the trash for a while)")
    @is_moderator()
    async def restore(self, interaction: discord.Interaction[Any], removed: str) -> None:
        who = _who(interaction)
        tenant = tenant_of(interaction)
        with tenant.gate.hold(who):
            await interaction.response.defer(ephemeral=True, thinking=True)
            async with showing_progress(interaction) as progress:
                entry, report = await tenant.handlers.restore_briefing(removed, who, progress=progress)
        what = f"{interaction.user.mention} restored {embeds.escape(entry.path)}."
        await finish(self.bot, interaction, report, who, what)

    @restore.autocomplete("removed")
    async def _restore_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        # Autocomplete runs before any check: only moderators may learn what was removed.
        if interaction.guild is None or not member_is_moderator(interaction.user, self.bot.settings):
            return []
        typed = current.casefold().strip()
        out: list[app_commands.Choice[str]] = []
        for e in await tenant_of(interaction).handlers.trashed():
            if typed and typed not in e.path.casefold() and typed not in e.title.casefold():
                continue
            name = f"{e.title} ({e.path}, removed {e.removed_label})"
            out.append(
                app_commands.Choice(name=name[:99] + ("…" if len(name) > 99 else ""), value=e.entry_id)
            )
            if len(out) == 25:
                break
        return out

    @remove.autocomplete("briefing")
    async def _remove_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        # Autocomplete runs none of the command's checks: only a moderator may see the list.
        if interaction.guild is None or not member_is_moderator(interaction.user, self.bot.settings):
            return []
        return await briefing_options(tenant_of(interaction).handlers, EVERYTHING, current)

    @briefing.command(name="list", description="List the indexed briefings")
    @is_moderator()
    async def list_briefings(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        embed, view = await briefings_list(interaction, 0)
        await interaction.followup.send(embed=embed, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)


def _who(interaction: discord.Interaction[Any]) -> str:
    return f"{interaction.user} via Discord"


async def finish(
    bot: BriefBot,
    interaction: discord.Interaction[Any],
    report: ReindexReport,
    who: str,
    what: str | None,
    *,
    mode: str = "update",
) -> None:
    """The final report: in the (progress) reply, and in the mod-log unless nothing changed. A
    report refused only because many briefings would go carries a "Publish anyway" button.

    After 15 minutes the reply can no longer be edited: the moderator is then told in the
    channel, in a line that names no briefing and gives no count (the channel may be public)."""
    embed = embeds.report_embed(report, who)
    content = what or ""
    view = discord.ui.View(timeout=None)
    if report.publishable_with_confirmation:
        view.add_item(PublishAnywayButton("full" if mode == "full" else "update", report.would_lose))
    try:
        await interaction.edit_original_response(
            content=content, embed=embed, view=view, allowed_mentions=NO_MENTIONS
        )
    except discord.HTTPException as exc:  # after 15 minutes Discord refuses the token
        log.warning("could not edit the reply of %s (%s): telling them in the channel", who, exc)
        await _tell_in_channel(bot, interaction, report)
    if report.changed or report.rolled_back or report.skipped or report.refused:
        await bot.modlog(tenant_of(interaction), content or None, embed=embed)


async def _tell_in_channel(
    bot: BriefBot, interaction: discord.Interaction[Any], report: ReindexReport
) -> None:
    where = "`/status` and the mod-log" if bot.settings.modlog_channels else "`/status`"
    outcome = "was not published" if report.refused else "has finished"
    text = f"{interaction.user.mention}: the reindex you started {outcome}; its report is in {where}."
    channel = interaction.channel
    try:
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"channel {interaction.channel_id} cannot receive messages")
        await channel.send(text, allowed_mentions=NO_MENTIONS)
    except (discord.HTTPException, TypeError):
        log.error("could not tell %s that the reindex ended", interaction.user, exc_info=True)


# ---------------------------------------------------------------------------- confirmations


class RemoveButton(_Button, template=r"bb:rm:(?P<bkey>[0-9a-f]{16}):(?P<yes>[yn])"):
    """Remove (or keep) the briefing a ``/briefing remove`` asked about."""

    def __init__(self, bkey: str, *, confirm: bool) -> None:
        super().__init__(
            discord.ui.Button(
                label="Remove" if confirm else "Cancel",
                style=discord.ButtonStyle.danger if confirm else discord.ButtonStyle.secondary,
                custom_id=f"bb:rm:{bkey}:{'y' if confirm else 'n'}",
            )
        )
        self.bkey = bkey
        self.confirm = confirm

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["bkey"], confirm=match["yes"] == "y")

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        bot = app(interaction)
        require_moderator(interaction)
        if not self.confirm:
            await interaction.response.edit_message(
                content="Kept: nothing was removed.", view=None, allowed_mentions=NO_MENTIONS
            )
            return
        tenant = tenant_of(interaction)
        meta = next(
            (m for m in await tenant.handlers.briefings() if briefing_key(m.briefing_id) == self.bkey), None
        )
        if meta is None:
            raise UserFacingError("That briefing is not indexed any more (removed already?).")
        who = _who(interaction)
        with tenant.gate.hold(who):
            await interaction.response.edit_message(
                content=f"Removing {embeds.escape(meta.path)}…", view=None, allowed_mentions=NO_MENTIONS
            )
            async with showing_progress(interaction) as progress:
                report = await tenant.handlers.remove_briefing(meta.briefing_id, who, progress=progress)
        what = f"{interaction.user.mention} removed {embeds.clip(meta.path, 200)} (kept in the trash)."
        await finish(bot, interaction, report, who, what)


async def rollback_picker(tenant: Tenant) -> tuple[str, discord.ui.View]:
    """The kept index versions to roll back to, newest first, with their dates and sizes."""
    versions = await asyncio.to_thread(tenant.service.kept_versions)
    live = next((k.version for k in versions if k.live), None)
    kept = [k for k in versions if not k.live]
    view = discord.ui.View(timeout=None)
    if not kept:
        return "There is no older index version to roll back to.", view
    view.add_item(RollbackSelect(kept, live))
    text = (
        "Roll back to which index? This restores the index, not the files: the corpus folder stays "
        "as it is, and the next reindex indexes it again."
    )
    return text, view


class RollbackSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"bb:rollback"):
    """The moderator's choice of a kept index version; choosing it makes it live."""

    def __init__(self, kept: Sequence[KeptVersion] = (), live: str | None = None) -> None:
        options = [
            discord.SelectOption(
                label=f"Built {render.when_built(k.built_at)}",
                description=f"{k.briefings} briefings, {k.passages} passages"
                + (" · newer than the live one" if live is not None and k.version > live else ""),
                value=k.version,
            )
            for k in list(kept)[:25]
        ] or [discord.SelectOption(label="(none)", value="none")]
        super().__init__(
            discord.ui.Select(
                custom_id="bb:rollback", placeholder="Index version to make live…", options=options
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls()

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if interaction_in_scope(interaction):  # as every button: nothing for other servers
            return True
        await refuse_out_of_scope(interaction)
        return False

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, lambda: self._roll_back(interaction))

    async def _roll_back(self, interaction: discord.Interaction[Any]) -> None:
        bot = app(interaction)
        require_moderator(interaction)
        version = self.item.values[0] if self.item.values else ""
        who = _who(interaction)
        tenant = tenant_of(interaction)
        with tenant.gate.hold(who):
            await interaction.response.edit_message(
                content="Rolling back…", view=None, allowed_mentions=NO_MENTIONS
            )
            report = await tenant.handlers.reindex(who=who, rollback=True, to=version)
        await finish(bot, interaction, report, who, None)


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (RemoveButton, RollbackSelect)

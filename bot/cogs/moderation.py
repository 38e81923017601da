"""Moderating: ``/reindex``, ``/briefing add|remove|list`` and ``/status``.

Moderators only: ``default_permissions(manage_guild=True)`` hides the commands from others and
the ``is_moderator`` check enforces it (Manage Server, or a role in ``moderator_roles``).
Reports go to the person and, when configured, to the mod-log channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.checks import NO_MENTIONS, is_moderator, member_is_moderator
from bot.handlers import check_upload
from bot.views import PublishAnywayButton, briefing_options, briefings_list
from index.models import ReindexReport
from index.search import Viewer

if TYPE_CHECKING:
    from bot.client import BriefBot

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

    @app_commands.command(name="reindex", description="Update the index from the corpus folder (moderators)")
    @app_commands.describe(
        mode="update: changed files only; full: re-embed everything; rollback: previous version"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @is_moderator()
    async def reindex(
        self, interaction: discord.Interaction[Any], mode: Literal["update", "full", "rollback"] = "update"
    ) -> None:
        await self.run_reindex(interaction, mode)

    async def run_reindex(
        self, interaction: discord.Interaction[Any], mode: str, *, confirmed_loss: int | None = None
    ) -> None:
        """A reindex for a moderator: progress in the reply, then the report (and the mod-log).
        ``confirmed_loss`` is the moderator's confirmation that that many briefings may go (no more:
        if more would go by now, it is refused again)."""
        who = _who(interaction)
        with self.bot.reindex_gate.hold(who):
            await interaction.response.defer(ephemeral=True, thinking=True)
            async with showing_progress(interaction) as progress:
                report = await self.bot.handlers.reindex(
                    progress=progress,
                    who=who,
                    full=mode == "full",
                    rollback=mode == "rollback",
                    confirmed_loss=confirmed_loss,
                )
        await self._finish(interaction, report, who, None, mode=mode)

    @app_commands.command(
        name="status", description="What is indexed, the model, and the last reindex (moderators)"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @is_moderator()
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = await self.bot.handlers.status()
        await interaction.followup.send(
            embed=embeds.status_embed(status), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @briefing.command(name="add", description="Add a briefing file (.md or .txt) and index it")
    @app_commands.describe(file="The briefing file", replace="Replace a briefing file of the same name")
    @is_moderator()
    async def add(
        self, interaction: discord.Interaction[Any], file: discord.Attachment, replace: bool = False
    ) -> None:
        limit = self.bot.settings.max_upload_kb * 1024
        name = check_upload(file.filename, file.size, limit)  # before downloading anything
        who = _who(interaction)
        with self.bot.reindex_gate.hold(who):
            await interaction.response.defer(ephemeral=True, thinking=True)
            data = await file.read()
            async with showing_progress(interaction) as progress:
                report = await self.bot.handlers.add_briefing(
                    name, data, who, replace=replace, max_bytes=limit, progress=progress
                )
        verb = "replaced" if replace else "added"
        await self._finish(
            interaction, report, who, f"{interaction.user.mention} {verb} {embeds.escape(name)}."
        )

    @briefing.command(name="remove", description="Delete a briefing file from the corpus and the index")
    @app_commands.describe(briefing="The briefing to remove")
    @is_moderator()
    async def remove(self, interaction: discord.Interaction[Any], briefing: str) -> None:
        who = _who(interaction)
        with self.bot.reindex_gate.hold(who):
            await interaction.response.defer(ephemeral=True, thinking=True)
            async with showing_progress(interaction) as progress:
                report = await self.bot.handlers.remove_briefing(briefing, who, progress=progress)
        await self._finish(
            interaction, report, who, f"{interaction.user.mention} removed {embeds.clip(briefing, 200)}."
        )

    @remove.autocomplete("briefing")
    async def _remove_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        # Autocomplete runs none of the command's checks: only a moderator may see the list.
        if interaction.guild is None or not member_is_moderator(interaction.user, self.bot.settings):
            return []
        return await briefing_options(self.bot.handlers, EVERYTHING, current)

    @briefing.command(name="list", description="List the indexed briefings")
    @is_moderator()
    async def list_briefings(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        embed, view = await briefings_list(interaction, 0)
        await interaction.followup.send(embed=embed, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def _finish(
        self,
        interaction: discord.Interaction[Any],
        report: ReindexReport,
        who: str,
        what: str | None,
        *,
        mode: str = "update",
    ) -> None:
        """The final report: in the (progress) reply, and in the mod-log. A report refused only
        because many briefings would go carries a "Publish anyway" button.

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
            await self._tell_in_channel(interaction, report)
        await self.bot.modlog(content or None, embed=embed)

    async def _tell_in_channel(self, interaction: discord.Interaction[Any], report: ReindexReport) -> None:
        where = "`/status` and the mod-log" if self.bot.settings.modlog_channel_id else "`/status`"
        outcome = "was not published" if report.refused else "has finished"
        text = f"{interaction.user.mention}: the reindex you started {outcome}; its report is in {where}."
        channel = interaction.channel
        try:
            if not isinstance(channel, discord.abc.Messageable):
                raise TypeError(f"channel {interaction.channel_id} cannot receive messages")
            await channel.send(text, allowed_mentions=NO_MENTIONS)
        except (discord.HTTPException, TypeError):
            log.error("could not tell %s that the reindex ended", interaction.user, exc_info=True)


def _who(interaction: discord.Interaction[Any]) -> str:
    return f"{interaction.user} via Discord"

"""Moderators and feedback: ``/gaps`` (coverage gaps by topic, as a message and a CSV file),
the weekly report to the mod-log, and turning a 👎 "wrong passage" into a check question.

``/gaps`` is private to the moderator who runs it and includes questions asked privately; the
weekly mod-log post, being in a channel, leaves those out and anything quoting a restricted
briefing. Reports never carry anyone's name.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from typing import TYPE_CHECKING, Any, Self

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import embeds
from bot.checks import NO_MENTIONS, guarded, is_moderator, require_moderator, tenant_of, viewer_for
from bot.errors import UserFacingError
from bot.feedback_store import GapRow
from bot.gaps_report import GapsReport, gather, report_csv, report_lines
from bot.views import _Button
from index.search import EVERYONE, Viewer

if TYPE_CHECKING:
    from bot.client import BriefBot
    from bot.tenants import Tenant

log = logging.getLogger(__name__)

WEEK = 7 * 86400
WEEKLY_KEY = "gaps_posted_at"
CANDIDATES = 10  # passages offered when picking the right one
_KEY = r"(?P<key>[A-Za-z0-9_-]{4,32})"


def gaps_message(report: GapsReport, title: str) -> tuple[discord.Embed, discord.File]:
    """The report as an embed and a CSV file. Blocking for a long report: call from a thread."""
    embed = embeds.lines_embed(title, report_lines(report))
    data = io.BytesIO(report_csv(report).encode("utf-8-sig"))  # a BOM: spreadsheets read it as UTF-8
    return embed, discord.File(data, filename=f"gaps-last-{report.days}-days.csv")


class FeedbackCog(commands.Cog):
    """What the answers' 👍 / 👎 and abstentions tell moderators."""

    def __init__(self, bot: BriefBot) -> None:
        self.bot = bot
        self._weekly: tasks.Loop[Any] | None = None

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ReviewButton, PickRightPassage)
        if self.bot.settings.gaps_weekly:
            self._weekly = tasks.loop(hours=1)(self._weekly_gaps)
            self._weekly.start()

    async def cog_unload(self) -> None:
        if self._weekly is not None:
            self._weekly.cancel()

    @app_commands.command(
        name="gaps", description="Questions the briefings did not answer well, by topic (moderators)"
    )
    @app_commands.describe(days="How many days back (default 7)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @is_moderator()
    async def gaps(
        self, interaction: discord.Interaction[Any], days: app_commands.Range[int, 1, 365] = 7
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        tenant = tenant_of(interaction)
        viewer = viewer_for(interaction, public=False)
        report = await self._report(tenant, days, include_private=True, viewer=viewer)
        reports = await asyncio.to_thread(tenant.feedback.wrong_passage_reports, may_see=viewer.may_see)
        view = discord.ui.View(timeout=None)
        if reports:
            view.add_item(ReviewButton(len(reports)))
        embed, file = await asyncio.to_thread(gaps_message, report, f"Coverage gaps: last {days} days")
        await interaction.followup.send(
            embed=embed,
            file=file,
            view=view,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    async def _report(
        self, tenant: Tenant, days: int, *, include_private: bool, viewer: Viewer
    ) -> GapsReport:
        embedder = tenant.service.embedder
        return await asyncio.to_thread(
            gather, tenant.feedback, embedder, days, include_private=include_private, may_see=viewer.may_see
        )

    async def _weekly_gaps(self) -> None:
        """Once a week, the last week's gaps of each corpus this process looks after to its
        mod-log (checked hourly; survives restarts)."""
        for tenant in self.bot.tenants.here():
            try:
                await self._weekly_gaps_of(tenant)
            except Exception:  # an exception would stop the loop for good
                log.exception("weekly coverage-gaps report of %s failed", tenant.name)

    async def _weekly_gaps_of(self, tenant: Tenant) -> None:
        store = tenant.feedback
        last = await asyncio.to_thread(store.get_meta, WEEKLY_KEY)
        now = store.now()
        if last is None:  # the first start: the first report comes a week later
            await asyncio.to_thread(store.set_meta, WEEKLY_KEY, str(now))
            return
        if now - float(last) < WEEK:
            return
        await asyncio.to_thread(store.purge)
        report = await self._report(tenant, 7, include_private=False, viewer=EVERYONE)
        embed, file = await asyncio.to_thread(gaps_message, report, "Coverage gaps: the last 7 days")
        await self.bot.modlog(tenant, embed=embed, file=file)
        await asyncio.to_thread(store.set_meta, WEEKLY_KEY, str(now))


# ---------------------------------------------------------------------------- wrong passages


async def _review_message(interaction: discord.Interaction[Any]) -> tuple[str, discord.ui.View]:
    """The oldest unreviewed "wrong passage" report, with the passages to choose from."""
    tenant = tenant_of(interaction)
    viewer = viewer_for(interaction, public=False)
    reports = await asyncio.to_thread(tenant.feedback.wrong_passage_reports, may_see=viewer.may_see)
    view = discord.ui.View(timeout=None)
    if not reports:
        return "No 👎 “wrong passage” reports are waiting.", view
    row: GapRow = reports[0]
    answer = await tenant.handlers.ask(row.question, viewer=viewer, k=CANDIDATES)
    shown = ", ".join(f"{q.briefing_id} ¶{q.paragraph}" for q in row.shown) or "nothing"
    text = (
        f"👎 “wrong passage” ({len(reports)} waiting). Question: “{row.question}”\n"
        f"It was shown: {shown}.\n"
        "Pick the passage that answers it: the question becomes a check question, and future "
        "reindex reports say when its top passage changes."
    )
    view.add_item(PickRightPassage(row.answer_key, answer.quotes))
    return text, view


class ReviewButton(_Button, template=r"bb:review:(?P<n>\d{1,6})"):
    """Opens the oldest 👎 "wrong passage" report for a moderator to fix."""

    def __init__(self, waiting: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Review wrong passages ({waiting})",
                style=discord.ButtonStyle.primary,
                custom_id=f"bb:review:{waiting}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["n"]))

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        require_moderator(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        text, view = await _review_message(interaction)
        await interaction.followup.send(
            embeds.clip(text, embeds.CONTENT_MAX), view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
        )


class PickRightPassage(discord.ui.DynamicItem[discord.ui.Select[Any]], template=rf"bb:fix:{_KEY}"):
    """The moderator's pick: the passage that answers a 👎 "wrong passage" question, or none."""

    NONE = "none"

    def __init__(self, key: str, quotes: Any = ()) -> None:
        options = [
            discord.SelectOption(
                label=_cut(f"{q.attribution.title} ¶ {q.attribution.paragraph_label}"),
                description=_cut(" ".join(q.text.split())),
                value=q.passage_id,
            )
            for q in list(quotes)[:24]
        ]
        options.append(discord.SelectOption(label="None of these (dismiss the report)", value=self.NONE))
        select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=f"bb:fix:{key}", placeholder="The right passage is…", options=options
        )
        super().__init__(select)
        self.key = key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["key"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, lambda: self._pick(interaction))

    async def _pick(self, interaction: discord.Interaction[Any]) -> None:
        tenant = tenant_of(interaction)
        require_moderator(interaction)
        values = self.item.values
        choice = str(values[0]) if values else self.NONE
        await interaction.response.defer()
        row = await asyncio.to_thread(tenant.feedback.question, self.key)
        if row is None:
            raise UserFacingError("That report is too old and has been deleted.")
        if choice == self.NONE:
            await asyncio.to_thread(tenant.feedback.mark_reviewed, self.key, "dismissed")
            done = "Dismissed."
        else:
            viewer = viewer_for(interaction, public=False)
            found = await tenant.handlers.context(choice, viewer=viewer, around=0)
            passage = next((p for p in found if p.passage_id == choice), None)
            if passage is None:
                raise UserFacingError("That passage has changed since; review the report again.")
            service = tenant.service
            added = await asyncio.to_thread(service.add_check, row.question, passage.briefing_id, choice)
            await asyncio.to_thread(tenant.feedback.mark_reviewed, self.key, f"check:{choice}")
            done = (
                f"Saved as a check question (right passage: {passage.briefing_id} ¶ {passage.paragraph_label})."
                if added
                else "That question is a check question already."
            )
        text, view = await _review_message(interaction)
        await interaction.edit_original_response(
            content=embeds.clip(f"{done}\n\n{text}", embeds.CONTENT_MAX),
            view=view,
            allowed_mentions=NO_MENTIONS,
        )


def _cut(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

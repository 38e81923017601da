"""``/briefings`` for everyone: the briefings you may read, newest first, a page at a time;
pick one from the menu to read it (privately, paged).

Buttons and the menu are persistent: ``bb:browse:<page>:<p|n>`` and ``bb:pick:<page>``. Each
click lists again what the clicker may see, so nobody learns of a briefing (or how many there
are) that is not for them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.checks import NO_MENTIONS, guarded, tenant_of, viewer_for
from bot.reader import PageButton, briefing_key, reader_message
from index.models import BriefingMeta
from index.whatsnew import newest_first

if TYPE_CHECKING:
    from bot.client import BriefBot

PER_PAGE = 10
OPTION_CHARS = 100


def browse_embed(metas: Sequence[BriefingMeta], page: int) -> tuple[discord.Embed, int]:
    """One page of the list (already filtered and ordered) and the number of pages."""
    pages = max(1, -(-len(metas) // PER_PAGE))
    page = min(max(page, 0), pages - 1)
    chunk = metas[page * PER_PAGE : (page + 1) * PER_PAGE]
    lines = [
        f"{page * PER_PAGE + i}. {m.title} ({m.when_label})"
        + ("" if m.is_public else f" · for {', '.join(m.audience)}")
        for i, m in enumerate(chunk, 1)
    ] or ["No briefings are indexed yet."]
    embed = embeds.lines_embed(f"Briefings you can read ({len(metas)})", lines, embeds.CONTEXT_COLOUR)
    embed.set_footer(text=f"Newest first · page {page + 1} of {pages} · pick one below to read it")
    return embed, pages


async def browse_message(
    interaction: discord.Interaction[Any], page: int
) -> tuple[discord.Embed, discord.ui.View]:
    """Page ``page`` of ``/briefings`` for whoever clicked, with its menu and page buttons."""
    visible = await tenant_of(interaction).handlers.briefings(viewer=viewer_for(interaction, public=False))
    metas = await asyncio.to_thread(newest_first, visible)  # a large corpus is sorted off the loop
    embed, pages = browse_embed(metas, page)
    page = min(max(page, 0), pages - 1)
    view = discord.ui.View(timeout=None)
    chunk = metas[page * PER_PAGE : (page + 1) * PER_PAGE]
    if chunk:
        view.add_item(PickBriefing(page, chunk))
    if pages > 1:
        view.add_item(BrowsePageButton(max(page - 1, 0), forward=False, disabled=page == 0))
        view.add_item(BrowsePageButton(min(page + 1, pages - 1), forward=True, disabled=page == pages - 1))
    return embed, view


class BrowsePageButton(PageButton, template=r"bb:browse:(?P<page>\d{1,5}):[pn]"):
    """Previous / next page of ``/briefings``."""

    def __init__(self, page: int, *, forward: bool, disabled: bool = False) -> None:
        super().__init__(
            f"bb:browse:{page}:{'n' if forward else 'p'}", forward=forward, disabled=disabled, row=1
        )
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["page"]), forward=match.group(0).endswith("n"))

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer()
        embed, view = await browse_message(interaction, self.page)
        await interaction.edit_original_response(embed=embed, view=view, allowed_mentions=NO_MENTIONS)


class PickBriefing(discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"bb:pick:(?P<page>\d{1,5})"):
    """The menu of one page's briefings: choosing one opens it, privately."""

    def __init__(self, page: int, metas: Sequence[BriefingMeta] = ()) -> None:
        options = [
            discord.SelectOption(
                label=_option(m.title), value=briefing_key(m.briefing_id), description=_option(m.when_label)
            )
            for m in metas
        ]
        select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=f"bb:pick:{page}",
            placeholder="Read a briefing…",
            options=options or [discord.SelectOption(label="(none)", value="none")],
            row=0,
        )
        super().__init__(select)
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["page"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, lambda: self._open(interaction))

    async def _open(self, interaction: discord.Interaction[Any]) -> None:
        values = self.item.values
        await interaction.response.defer(ephemeral=True, thinking=True)
        embed, view = await reader_message(interaction, str(values[0]) if values else "", 0)
        await interaction.followup.send(embed=embed, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)


def _option(text: str) -> str:
    return text if len(text) <= OPTION_CHARS else text[: OPTION_CHARS - 1] + "…"


class BrowseCog(commands.Cog):
    """``/briefings``: what there is to read."""

    def __init__(self, bot: BriefBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(BrowsePageButton, PickBriefing)

    @app_commands.command(name="briefings", description="The briefings you can read, newest first")
    async def briefings(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        embed, view = await browse_message(interaction, 0)
        await interaction.followup.send(embed=embed, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)

"""Reading a whole briefing in Discord: private, paged, and only for those who may see it.

``bb:open:<briefing key>`` opens page 1 in a new private message; ``bb:read:<key>:<page>:<p|n>``
turns the pages of that message. A briefing id may be longer than a custom id allows, so the
key is a short hash of it, looked up among the briefings the clicker may see: a briefing they
may not see is simply not found. The text is the indexed passages, verbatim, under their
section names; paging runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from typing import Any, Self

import discord

from bot import embeds
from bot.checks import NO_MENTIONS, tenant_of, viewer_for
from bot.errors import UserFacingError
from bot.views import _Button
from index.models import BriefingMeta, Passage

PAGE_CHARS = embeds.DESCRIPTION_MAX - 96
_BKEY = r"(?P<bkey>[0-9a-f]{16})"


def briefing_key(briefing_id: str) -> str:
    """A short, stable key for a briefing id (custom ids hold at most 100 characters)."""
    return hashlib.sha256(briefing_id.encode()).hexdigest()[:16]


def briefing_pages(passages: Sequence[Passage], limit: int = PAGE_CHARS) -> list[str]:
    """The briefing's passages in order, escaped, with each new section's name in bold, cut
    into pages of at most ``limit`` characters (a long passage at sentence boundaries)."""
    blocks: list[str] = []
    section: tuple[str, ...] | None = None
    for p in passages:
        if p.section and p.section != section:
            blocks.append("**" + embeds.clip(p.section_label, 200) + "**")
        section = p.section
        blocks.extend(embeds.full_passage_pages(p.text, limit))
    pages: list[str] = []
    current = ""
    for block in blocks:
        joined = f"{current}\n\n{block}" if current else block
        if embeds.dlen(joined) <= limit:
            current = joined
            continue
        if current:
            pages.append(current)
        current = block
    if current:
        pages.append(current)
    return pages or ["(This briefing has no text in the index.)"]


def page_embed(meta: BriefingMeta, pages: Sequence[str], page: int) -> discord.Embed:
    embed = discord.Embed(
        title=embeds.clip(meta.title, embeds.TITLE_MAX),
        description=pages[page],
        colour=embeds.CONTEXT_COLOUR,
        url=embeds.safe_url(meta.url),
    )
    footer = f"{meta.when_label} — {meta.path} — page {page + 1} of {len(pages)}"
    embed.set_footer(text=embeds.clip(footer, embeds.FOOTER_MAX))
    return embed


async def reader_message(
    interaction: discord.Interaction[Any], bkey: str, page: int
) -> tuple[discord.Embed, discord.ui.View]:
    """Page ``page`` of the briefing ``bkey`` for the clicker, with its page buttons."""
    handlers = tenant_of(interaction).handlers
    viewer = viewer_for(interaction, public=False)
    metas = await handlers.briefings(viewer=viewer)
    meta = next((m for m in metas if briefing_key(m.briefing_id) == bkey), None)
    if meta is None:
        raise UserFacingError("That briefing is not available to you here, or has been removed since.")
    passages = await handlers.briefing_passages(meta.briefing_id, viewer=viewer)
    pages = await asyncio.to_thread(briefing_pages, passages)
    page = min(max(page, 0), len(pages) - 1)
    view = discord.ui.View(timeout=None)
    if len(pages) > 1:
        view.add_item(ReaderPageButton(bkey, max(page - 1, 0), forward=False, disabled=page == 0))
        view.add_item(
            ReaderPageButton(
                bkey, min(page + 1, len(pages) - 1), forward=True, disabled=page == len(pages) - 1
            )
        )
    return page_embed(meta, pages, page), view


class OpenBriefingButton(_Button, template=rf"bb:open:{_BKEY}"):
    """Shows a whole briefing, privately, from its first page."""

    def __init__(
        self, briefing_id: str | None = None, *, label: str = "Open briefing", bkey: str | None = None
    ) -> None:
        key = bkey or briefing_key(briefing_id or "")
        super().__init__(
            discord.ui.Button(label=label, style=discord.ButtonStyle.secondary, custom_id=f"bb:open:{key}")
        )
        self.bkey = key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(label=getattr(item, "label", None) or "Open briefing", bkey=match["bkey"])

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        embed, view = await reader_message(interaction, self.bkey, 0)
        await interaction.followup.send(embed=embed, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)


class PageButton(_Button, template=r"(?!)"):
    """◀ Previous / Next ▶ of a paged private message; subclasses give the custom id."""

    def __init__(
        self, custom_id: str, *, forward: bool, disabled: bool = False, row: int | None = None
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label="Next ▶" if forward else "◀ Previous",
                style=discord.ButtonStyle.secondary,
                custom_id=custom_id,
                disabled=disabled,
                row=row,
            )
        )


class ReaderPageButton(PageButton, template=rf"bb:read:{_BKEY}:(?P<page>\d{{1,5}}):[pn]"):
    """Previous / next page of an open briefing (edits the private message)."""

    def __init__(self, bkey: str, page: int, *, forward: bool, disabled: bool = False) -> None:
        super().__init__(
            f"bb:read:{bkey}:{page}:{'n' if forward else 'p'}", forward=forward, disabled=disabled
        )
        self.bkey = bkey
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["bkey"], int(match["page"]), forward=match.group(0).endswith("n"))

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer()
        embed, view = await reader_message(interaction, self.bkey, self.page)
        await interaction.edit_original_response(embed=embed, view=view, allowed_mentions=NO_MENTIONS)


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (OpenBriefingButton, ReaderPageButton)

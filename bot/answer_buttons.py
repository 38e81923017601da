"""More buttons under answers: 👍 / 👎 (and why), Delete for the asker, Open briefing.

- ``bb:vote:<key>:<up|down>``: feedback on an answer; 👎 then asks why, in one click;
- ``bb:why:<key>:<reason>``: the reason for a 👎 (``feedback_store.REASONS``);
- ``bb:del:<key>``: deletes a public answer (the asker or a moderator only);
- Open briefing: a link button when the briefing has a URL, else ``reader.OpenBriefingButton``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal, Self

import discord

from bot import embeds
from bot.checks import NO_MENTIONS, app, member_is_moderator, tenant_of
from bot.errors import UserFacingError
from bot.feedback_store import REASONS
from bot.reader import OpenBriefingButton
from bot.views import _KEY, _AnswerButton, _Button, _record
from index.models import BriefingMeta

THANKS = "Thanks: noted. Moderators see which questions the briefings answer badly."
ASK_WHY = "Thanks. What was wrong with this answer?"


class VoteButton(_Button, template=rf"bb:vote:{_KEY}:(?P<vote>up|down)"):
    """👍 or 👎 on one answer; stored anonymously with the question and what it showed."""

    def __init__(self, key: str, *, up: bool) -> None:
        super().__init__(
            discord.ui.Button(
                emoji="👍" if up else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"bb:vote:{key}:{'up' if up else 'down'}",
                row=0,
            )
        )
        self.key = key
        self.up = up

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["key"], up=match["vote"] == "up")

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        store = tenant_of(interaction).feedback
        vote: Literal["up", "down"] = "up" if self.up else "down"
        if not await asyncio.to_thread(store.vote, self.key, interaction.user.id, vote):
            raise UserFacingError("This answer is too old to rate; ask the question again.")
        if self.up:
            await interaction.response.send_message(THANKS, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        view = discord.ui.View(timeout=None)
        for code in REASONS:
            view.add_item(ReasonButton(self.key, code))
        await interaction.response.send_message(
            ASK_WHY, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
        )


class ReasonButton(_Button, template=rf"bb:why:{_KEY}:(?P<reason>[a-z]{{1,12}})"):
    """Why a 👎: wrong passage, outdated, not in the briefings, other."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=REASONS.get(reason, reason),
                style=discord.ButtonStyle.secondary,
                custom_id=f"bb:why:{key}:{reason}",
            )
        )
        self.key = key
        self.reason = reason

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["key"], match["reason"])

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        if self.reason not in REASONS:
            raise UserFacingError("That button is out of date; click 👎 again.")
        store = tenant_of(interaction).feedback
        if not await asyncio.to_thread(store.vote, self.key, interaction.user.id, "down", self.reason):
            raise UserFacingError("This answer is too old to rate; ask the question again.")
        await interaction.response.edit_message(
            content=f"Thanks: noted as “{REASONS[self.reason]}”. Moderators review these.",
            view=None,
            allowed_mentions=NO_MENTIONS,
        )


class DeleteButton(_AnswerButton, template=rf"bb:del:{_KEY}"):
    """Deletes a public answer: the person who asked, or a moderator."""

    prefix, text, style = "del", "Delete", discord.ButtonStyle.danger

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        record = await _record(interaction, self.key)
        bot = app(interaction)
        if record.asker_id != interaction.user.id and not member_is_moderator(interaction.user, bot.settings):
            raise UserFacingError("Only the person who asked (or a moderator) can delete this answer.")
        await interaction.response.defer()
        await interaction.delete_original_response()


def open_briefing_item(meta: BriefingMeta, label: str) -> discord.ui.Item[Any]:
    """A link to the briefing when it has a URL, else a button showing it here, privately."""
    url = embeds.safe_url(meta.url)
    if url is not None:
        return discord.ui.Button(label=label, style=discord.ButtonStyle.link, url=url)
    return OpenBriefingButton(meta.briefing_id, label=label)


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (VoteButton, ReasonButton, DeleteButton)

"""Asking: ``/ask``, the "Ask the briefings" message command, and (optionally) mentions.

Each one acknowledges first, then asks the shared handlers (which search in a worker thread),
then sends the quotes as embeds with their buttons.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import (
    GENERIC_FAILURE,
    NO_MENTIONS,
    PUBLIC_DEFER,
    app,
    error_text,
    message_in_scope,
    viewer_for,
    viewer_of,
)
from bot.errors import UserFacingError
from bot.handlers import MAX_QUESTION_CHARS, parse_date_option
from bot.views import AnswerRecord, briefing_options, compose_answer, send_answer

if TYPE_CHECKING:
    from bot.client import BriefBot

log = logging.getLogger(__name__)

T = TypeVar("T")
_MENTION = re.compile(r"<@!?\d+>")


def _cooldown_error(bot: BriefBot, retry_after: float) -> app_commands.CommandOnCooldown:
    cooldown = app_commands.Cooldown(bot.settings.ask_rate_limit, bot.settings.ask_rate_window)
    return app_commands.CommandOnCooldown(cooldown, retry_after)


async def _within_rate_limit(interaction: discord.Interaction[Any]) -> bool:
    bot = app(interaction)
    retry_after = bot.ask_limiter.hit(interaction.user.id)
    if retry_after:
        raise _cooldown_error(bot, retry_after)
    return True


def ask_rate_limit() -> Callable[[T], T]:
    """An app-command check: ``ask_rate_limit`` questions per ``ask_rate_window`` seconds a person."""
    return app_commands.check(_within_rate_limit)


class AskCog(commands.Cog):
    """Questions in, quotes out."""

    def __init__(self, bot: BriefBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Ask the briefings", callback=self.ask_message)
        self.menu.add_check(_within_rate_limit)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="ask", description="Answer a question by quoting the briefings")
    @app_commands.describe(
        question="What do you want to know?",
        briefing="Only this briefing",
        since="Only briefings dated on or after this day (YYYY-MM-DD)",
        private="Only you see the answer (it may then include briefings restricted to your roles)",
    )
    @ask_rate_limit()
    async def ask(
        self,
        interaction: discord.Interaction[Any],
        question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
        briefing: str | None = None,
        since: str | None = None,
        private: bool = False,
    ) -> None:
        await self.answer(interaction, question, briefing, since, private=private)

    async def answer(
        self,
        interaction: discord.Interaction[Any],
        question: str,
        briefing: str | None,
        since: str | None,
        *,
        private: bool,
    ) -> None:
        """Acknowledge, ask, send the quotes: the body of ``/ask`` (in a server or a DM)."""
        since_date = parse_date_option(since)  # a typo is refused before anything is shown
        await interaction.response.defer(ephemeral=private, thinking=True)
        if not private:
            interaction.extras[PUBLIC_DEFER] = True
        answer = await self.bot.handlers.ask(
            question,
            viewer=viewer_for(interaction, public=not private),
            briefing_id=briefing,
            since=since_date,
        )
        record = AnswerRecord(question, briefing, since_date.isoformat() if since_date else None)
        await send_answer(interaction, answer, record, private=private, heading=_question_line(question))

    @ask.autocomplete("briefing")
    async def _briefing_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        private = bool(getattr(interaction.namespace, "private", False))
        # A public answer may only use public briefings: offer only those unless private is set.
        return await briefing_options(self.bot.handlers, viewer_for(interaction, public=not private), current)

    async def ask_message(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        """The message command: the message's text is the question; only the asker sees the answer."""
        question = " ".join(message.content.split())
        if not question:
            raise UserFacingError("That message has no text to ask about.")
        question = _shorten(question, MAX_QUESTION_CHARS)
        await interaction.response.defer(ephemeral=True, thinking=True)
        answer = await self.bot.handlers.ask(question, viewer=viewer_for(interaction, public=False))
        await send_answer(
            interaction, answer, AnswerRecord(question), private=True, heading=_question_line(question)
        )

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """With ``mention_replies`` on, "@briefbot question" is answered in the channel."""
        me = self.bot.user
        if not self.bot.settings.mention_replies or me is None or message.author.bot:
            return
        if me not in message.mentions or not message_in_scope(message, self.bot.settings):
            return
        question = _shorten(" ".join(_MENTION.sub(" ", message.content).split()), MAX_QUESTION_CHARS)
        try:
            await self._answer_mention(message, question)
        except Exception as exc:
            text = error_text(exc)
            if text is None:
                log.exception("error answering a mention from %s", message.author)
                text = GENERIC_FAILURE
            await message.reply(text, allowed_mentions=NO_MENTIONS, mention_author=False)

    async def _answer_mention(self, message: discord.Message, question: str) -> None:
        retry_after = self.bot.ask_limiter.hit(message.author.id)
        if retry_after:
            raise _cooldown_error(self.bot, retry_after)
        public = message.guild is not None
        viewer = viewer_of(message.author, self.bot.settings, public=public)
        async with message.channel.typing():
            answer = await self.bot.handlers.ask(question, viewer=viewer)
        msg, view = await compose_answer(self.bot, answer, AnswerRecord(question), private=False)
        await message.reply(
            content=msg.content,
            embeds=msg.embeds,
            view=view,
            allowed_mentions=NO_MENTIONS,
            mention_author=False,
        )


def _question_line(question: str) -> str:
    return "Question: " + _shorten(question, 300)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"

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
    dm_refusal,
    drop_public_placeholder,
    error_text,
    is_bot_dm,
    message_in_scope,
    tenant_of,
    viewer_for,
    viewer_of,
)
from bot.errors import UserFacingError
from bot.handlers import MAX_QUESTION_CHARS, parse_date_option
from bot.threads import (
    first_question,
    follow_up,
    follow_up_heading,
    is_answer_thread,
    open_thread,
    opens_threads,
    shorten,
)
from bot.views import (
    AnswerRecord,
    answers_in_public,
    briefing_options,
    compose_answer,
    compose_digest,
    send_answer,
)
from index.whatsnew import Digest

if TYPE_CHECKING:
    from bot.client import BriefBot
    from bot.tenants import Tenant

log = logging.getLogger(__name__)

T = TypeVar("T")
_MENTION = re.compile(r"<@!?\d+>")
NOTE_SECONDS = 60  # how long a short note (an error, a non-answer) stays in a channel
NO_CONFIDENT_ANSWER = (
    "No confident answer in the briefings. `/ask` with `private: True` shows you the closest passages."
)


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
        since_date = parse_date_option(since)  # a typo is refused before anything is shown
        await interaction.response.defer(ephemeral=private, thinking=True)
        if not private:
            interaction.extras[PUBLIC_DEFER] = True
        tenant = tenant_of(interaction)
        viewer = viewer_for(interaction, public=not private)
        heading = _question_line(question)
        asked = question
        if is_answer_thread(self.bot, interaction.channel):
            first = await first_question(self.bot, tenant, interaction.channel)  # type: ignore[arg-type]
            asked, heading = follow_up(first, question), follow_up_heading(first, question)
        elif briefing is None and since_date is None:
            digest = await tenant.handlers.whats_new(question, viewer=viewer)
            if digest is not None:
                await send_digest(interaction, digest, question, private=private)
                return
        answer = await tenant.handlers.ask(asked, viewer=viewer, briefing_id=briefing, since=since_date)
        record = AnswerRecord(
            asked,
            briefing,
            since_date.isoformat() if since_date else None,
            asker_id=interaction.user.id,
            guild_id=interaction.guild_id,
        )
        sent = await send_answer(interaction, answer, record, private=private, heading=heading)
        channel = interaction.channel
        if sent is not None and isinstance(channel, discord.TextChannel) and opens_threads(self.bot, channel):
            await open_thread(channel, sent.id, question)

    @ask.autocomplete("briefing")
    async def _briefing_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        # A public answer may only use public briefings: offer only those unless private is set.
        private = bool(getattr(interaction.namespace, "private", False))
        viewer = viewer_for(interaction, public=not private)
        return await briefing_options(tenant_of(interaction).handlers, viewer, current)

    async def ask_message(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        """The message command: the message's text is the question; only the asker sees the answer."""
        question = " ".join(message.content.split())
        if not question:
            raise UserFacingError("That message has no text to ask about.")
        question = shorten(question, MAX_QUESTION_CHARS)
        await interaction.response.defer(ephemeral=True, thinking=True)
        answer = await tenant_of(interaction).handlers.ask(
            question, viewer=viewer_for(interaction, public=False)
        )
        await send_answer(
            interaction,
            answer,
            AnswerRecord(question, asker_id=interaction.user.id, guild_id=interaction.guild_id),
            private=True,
            heading=_question_line(question),
        )

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A message typed in an answer thread is a follow-up question; with ``mention_replies``
        on, "@briefbot question" elsewhere is answered in the channel."""
        me = self.bot.user
        if me is None or message.author.bot:
            return
        settings = self.bot.settings
        if not message_in_scope(message, settings):
            if settings.mention_replies and is_bot_dm(message.channel) and me in message.mentions:
                await _refuse_dm(message, settings)
            return
        tenant = self.bot.tenant(message.guild.id if message.guild is not None else None)
        question = shorten(" ".join(_MENTION.sub(" ", message.content).split()), MAX_QUESTION_CHARS)
        if is_answer_thread(self.bot, message.channel):
            if question:
                first = await first_question(self.bot, tenant, message.channel)  # type: ignore[arg-type]
                await answer_message(self.bot, tenant, message, question, first)
            return
        if settings.mention_replies and me in message.mentions:
            await answer_message(self.bot, tenant, message, question)


async def _refuse_dm(message: discord.Message, settings: Any) -> None:
    """A mention in a direct message that is not answered gets one line saying why."""
    try:
        await message.reply(dm_refusal(settings), allowed_mentions=NO_MENTIONS, mention_author=False)
    except discord.HTTPException:
        log.debug("could not answer a direct message", exc_info=True)


async def answer_message(
    bot: BriefBot, tenant: Tenant, message: discord.Message, question: str, first: str | None = None
) -> None:
    """Reply to a typed question (a mention, or a follow-up in an answer thread; ``first`` is
    the thread's first question) from ``tenant``'s corpus. Errors and non-answers are short
    replies that go away."""
    try:
        await _reply_with_answer(bot, tenant, message, question, first)
    except Exception as exc:
        text = error_text(exc)
        if text is None:
            log.exception("error answering a message from %s", message.author)
            text = GENERIC_FAILURE
        await message.reply(
            text, allowed_mentions=NO_MENTIONS, mention_author=False, delete_after=NOTE_SECONDS
        )


async def _reply_with_answer(
    bot: BriefBot, tenant: Tenant, message: discord.Message, question: str, first: str | None
) -> None:
    retry_after = bot.ask_limiter.hit(message.author.id)
    if retry_after:
        raise _cooldown_error(bot, retry_after)
    public = message.guild is not None
    viewer = viewer_of(message.author, bot.settings, public=public)
    asked = follow_up(first, question) if first else question
    guild_id = message.guild.id if message.guild is not None else None
    record = AnswerRecord(asked, asker_id=message.author.id, guild_id=guild_id)
    digest = None if first else await tenant.handlers.whats_new(question, viewer=viewer)
    if digest is not None and digest.items:
        msg, view = await compose_digest(tenant, digest, record, private=not public)
    else:
        async with message.channel.typing():
            answer = await tenant.handlers.ask(asked, viewer=viewer)
        if public and not answers_in_public(answer):
            # Nobody else needs a non-answer in the channel: a short note that goes away.
            raise UserFacingError(NO_CONFIDENT_ANSWER)
        heading = follow_up_heading(first, question) if first else None
        msg, view = await compose_answer(tenant, answer, record, private=not public, heading=heading)
    await message.reply(
        content=msg.content,
        embeds=msg.embeds,
        view=view,
        allowed_mentions=NO_MENTIONS,
        mention_author=False,
    )


async def send_digest(
    interaction: discord.Interaction[Any], digest: Digest, question: str, *, private: bool
) -> None:
    """Follow up with the newest briefings (to the asker alone when there are none)."""
    if not digest.items and not private:
        await drop_public_placeholder(interaction)
        private = True
    record = AnswerRecord(question, asker_id=interaction.user.id, guild_id=interaction.guild_id)
    msg, view = await compose_digest(tenant_of(interaction), digest, record, private=private)
    await interaction.followup.send(
        content=msg.content, embeds=msg.embeds, view=view, ephemeral=private, allowed_mentions=NO_MENTIONS
    )


def _question_line(question: str) -> str:
    return "Question: " + shorten(question, 300)

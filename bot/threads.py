"""Answer threads: in channels listed in ``thread_channels`` a public answer opens a thread, and
a question asked in that thread is a follow-up to the thread's first question.

The first question is not stored anywhere new: a thread opened from a message has the
message's id, and that message's buttons carry the key of its ``AnswerRecord``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any, Literal

import discord

if TYPE_CHECKING:
    from bot.client import BriefBot
    from bot.tenants import Tenant

log = logging.getLogger(__name__)

THREAD_NAME_MAX = 100
ARCHIVE_MINUTES: Literal[60, 1440, 4320, 10080] = 1440
_KEY_IN_ID = re.compile(r"^bb:(?:more|vote|del|post):(?P<key>[A-Za-z0-9_-]{4,32})")


def is_answer_thread(bot: BriefBot, channel: Any) -> bool:
    """A thread the bot opened under an answer, in a channel that answers in threads."""
    me = bot.user
    return (
        isinstance(channel, discord.Thread)
        and me is not None
        and channel.owner_id == me.id
        and channel.parent_id in bot.settings.thread_channels
    )


def opens_threads(bot: BriefBot, channel: Any) -> bool:
    """Public answers in ``channel`` go into a new thread."""
    return isinstance(channel, discord.TextChannel) and channel.id in bot.settings.thread_channels


async def first_question(bot: BriefBot, tenant: Tenant, thread: discord.Thread) -> str:
    """The question that opened ``thread``: from its starter message's answer record (in the
    server's ``tenant``), else the thread's name (the question, clipped)."""
    try:
        parent = thread.parent or await bot.fetch_channel(thread.parent_id)
        if isinstance(parent, discord.TextChannel):
            starter = await parent.fetch_message(thread.id)
            for row in starter.components:
                for item in getattr(row, "children", []):
                    m = _KEY_IN_ID.match(getattr(item, "custom_id", None) or "")
                    if m:
                        record = await asyncio.to_thread(tenant.answers.get, m["key"])
                        if record is not None and record.guild_id in (None, thread.guild.id):
                            return record.question
    except discord.HTTPException:
        log.info("the first message of thread %s is gone; using its name", thread.id)
    return thread.name


def follow_up(first: str, question: str) -> str:
    """The question searched for a follow-up: the thread's first question gives the context."""
    return f"{first} {question}"


async def open_thread(channel: discord.TextChannel, message_id: int, question: str) -> discord.Thread | None:
    """Open a thread under a public answer, named after the question; None if Discord refuses."""
    name = shorten(" ".join(question.split()), THREAD_NAME_MAX)
    try:
        return await channel.get_partial_message(message_id).create_thread(
            name=name or "Follow-ups", auto_archive_duration=ARCHIVE_MINUTES
        )
    except discord.HTTPException:
        log.warning(
            "could not open a thread under answer %s (Create Public Threads?)", message_id, exc_info=True
        )
        return None


def follow_up_heading(first: str, question: str) -> str:
    """The two lines above a follow-up's answer (plain text: the message escapes it)."""
    return f"Follow-up to: {shorten(first, 300)}\nQuestion: {shorten(question, 300)}"


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word to at most ``limit`` characters, with "…" when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"

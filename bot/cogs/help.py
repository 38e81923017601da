"""``/help``: what the bot does, how to ask, what the labels mean, and what is kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.checks import NO_MENTIONS, member_is_moderator

if TYPE_CHECKING:
    from bot.client import BriefBot

ABOUT = (
    "I answer questions about the team's briefings by **quoting them**: every quote is a paragraph "
    "exactly as it stands in a briefing, with its title, date, section and paragraph number. "
    "I never write an answer of my own."
)
ASKING = (
    "`/ask question:` what you want to know, in your own words.\n"
    "• `briefing:` only this briefing (pick it as you type)\n"
    "• `since:` only briefings dated on or after a day, such as 2025-01-31\n"
    "• `private: True` only you see the answer; it may then quote briefings meant for your roles\n"
    "Time words work too: “since March”, “this week”, “the latest on …”.\n"
    "“What's new?” lists the newest briefings with their key takeaways.\n"
    "Right-click a message → Apps → **Ask the briefings** to ask with its text (privately)."
)
LABELS = (
    "**Strong match**: the passage very likely answers the question.\n"
    "**Weak match**: the closest passage found; it may not answer it.\n"
    "In a channel I post strong matches only. When nothing is strong, the answer goes to you alone: "
    "the channel is not filled with non-answers."
)
BUTTONS = (
    "**More passages**, **Show context**, **Full passage**, **Open briefing**: just for you.\n"
    "**Post to channel** shares a private answer (once, if every quote is public).\n"
    "**Delete** removes a public answer (the person who asked, or a moderator).\n"
    "👍 / 👎 tell the moderators how the answer was; 👎 asks what was wrong.\n"
    "`/briefings` lists the briefings you may read, newest first."
)
PRIVACY = (
    "Questions and 👍/👎 are kept for {days} days so that moderators can see which questions the "
    "briefings do not answer (`/gaps`). Reports never show who asked or voted; questions asked "
    "privately only ever appear in a moderator's private view."
)
MODERATORS = (
    "`/reindex` update, full rebuild or rollback · `/status` · `/briefing add|remove|restore|list` · "
    "`/gaps` unanswered questions by topic, with a CSV file."
)


def help_embed(keep_days: int, *, moderator: bool) -> discord.Embed:
    """Everything ``/help`` says, in one embed."""
    embed = discord.Embed(title="Briefbot help", description=ABOUT, colour=embeds.CONTEXT_COLOUR)
    embed.add_field(name="Asking", value=ASKING, inline=False)
    embed.add_field(name="Strong and weak", value=LABELS, inline=False)
    embed.add_field(name="Buttons and browsing", value=BUTTONS, inline=False)
    embed.add_field(name="What is kept", value=PRIVACY.format(days=keep_days), inline=False)
    if moderator:
        embed.add_field(name="For moderators", value=MODERATORS, inline=False)
    return embed


class HelpCog(commands.Cog):
    """One command that explains the others."""

    def __init__(self, bot: BriefBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What briefbot does and how to ask it")
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        moderator = interaction.guild is not None and member_is_moderator(interaction.user, self.bot.settings)
        embed = help_embed(self.bot.settings.keep_questions_days, moderator=moderator)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

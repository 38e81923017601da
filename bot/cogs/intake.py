"""Discord messages as briefings: the "Add to briefings" message command and briefing channels.

- **Add to briefings** (moderators; right-click a message → Apps): the message's text, embeds
  and supported attachments become briefings. The moderator first sees how they will be
  attributed (title, date, source, link, what is left out and why) and confirms.
- **Briefing channels** (``BRIEFBOT_BRIEFING_CHANNEL_IDS``, needs the Message Content
  intent): moderators' messages there are indexed as they are posted, edited or deleted, and
  at start the bot catches up with what happened while it was away.

A message is stored as ``discord/<channel>/<message>.eml`` in the corpus folder
(``bot.message_briefing``), so the index reads it like any other file and a reindex keeps it.
Downloads, parsing and indexing all run off the event loop (handlers, worker threads).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.checks import NO_MENTIONS, guarded, is_moderator, member_is_moderator, tenant_of
from bot.cogs.moderation import showing_progress
from bot.errors import UserFacingError
from bot.handlers import UPLOAD_SUFFIXES, check_upload
from bot.message_briefing import FOLDER, EmbedText, MessageBriefing, message_path, to_eml
from index.parsing import ParsedDocument

if TYPE_CHECKING:
    from bot.client import BriefBot
    from bot.tenants import Tenant

log = logging.getLogger(__name__)

PREVIEW_TIMEOUT = 600.0  # seconds the Confirm / Cancel buttons stay usable
CATCH_UP_MESSAGES = 200  # per briefing channel, newest first, at start
RETRY_SECONDS = 5.0  # a channel change waits this long when another reindex is running
MODERATORS_ONLY = ("moderators",)
PREVIEW_COLOUR = discord.Colour.gold()
# Eight briefings of at most 100 + 400 characters keep the preview under Discord's 6,000.
PREVIEW_BRIEFINGS = 8
PREVIEW_NAME_CHARS = 100
PREVIEW_VALUE_CHARS = 400


class IntakeCog(commands.Cog):
    """Turning Discord messages into briefings."""

    def __init__(self, bot: BriefBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Add to briefings", callback=self.add_message)
        self._dirty: dict[int | None, Tenant] = {}  # corpora to reindex soon, by server
        self._reindexer: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        if self._reindexer is not None:
            self._reindexer.cancel()

    # ------------------------------------------------------------------ Add to briefings

    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @is_moderator()
    async def add_message(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        """Preview the briefings a message gives; Confirm saves and indexes them."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        briefing = await self.briefing_of(message, strict=True)
        data = await asyncio.to_thread(to_eml, briefing)
        docs = await self._checked(tenant_of(interaction), briefing, data)
        view = ConfirmView(self, interaction.user.id, briefing, data)
        await interaction.followup.send(
            embed=preview_embed(briefing, docs), view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    async def _checked(self, tenant: Tenant, briefing: MessageBriefing, data: bytes) -> list[ParsedDocument]:
        limit = tenant.service.config.build.max_bytes
        if len(data) > limit:
            raise UserFacingError(
                f"That message and its attachments come to {len(data) / 2**20:.1f} MB; "
                f"briefing files can be at most {limit / 2**20:.1f} MB."
            )
        return await tenant.handlers.extract(briefing.rel_path, data, limit)

    async def save(
        self, interaction: discord.Interaction[Any], briefing: MessageBriefing, data: bytes
    ) -> None:
        """Confirmed: write the message's file and reindex, showing progress in the preview."""
        who = f"{interaction.user} via Discord"
        tenant = tenant_of(interaction)
        with tenant.gate.hold(who):
            await interaction.response.edit_message(
                content="Adding…", view=None, allowed_mentions=NO_MENTIONS
            )
            await tenant.handlers.put_corpus_file(briefing.rel_path, data)
            async with showing_progress(interaction) as progress:
                report = await tenant.handlers.reindex(progress=progress, who=who)
        what = f"{interaction.user.mention} added a Discord message as a briefing: {briefing.url}"
        embed = embeds.report_embed(report, who)
        await interaction.edit_original_response(content=what, embed=embed, allowed_mentions=NO_MENTIONS)
        await self.bot.modlog(tenant, what, embed=embed)

    # ------------------------------------------------------------------ reading a message

    async def briefing_of(self, message: discord.Message, *, strict: bool) -> MessageBriefing:
        """The message as a briefing; attachments are checked by name, size and type before
        they are downloaded. ``strict``: refuse a message that gives nothing to index."""
        limit = self.bot.settings.max_upload_kb * 1024
        wanted: list[discord.Attachment] = []
        skipped: list[tuple[str, str]] = []
        for attachment in message.attachments:
            if PurePosixPath(attachment.filename).suffix.lower() not in UPLOAD_SUFFIXES:
                skipped.append((attachment.filename, "not a supported format"))
                continue
            try:
                check_upload(attachment.filename, attachment.size, limit, attachment.content_type)
            except UserFacingError as exc:
                skipped.append((attachment.filename, exc.message))
                continue
            wanted.append(attachment)
        files = [(a.filename, await a.read()) for a in wanted]
        briefing = MessageBriefing(
            message_id=message.id,
            channel_id=message.channel.id,
            content=message.content or "",
            author=getattr(message.author, "display_name", None) or message.author.name,
            author_id=message.author.id,
            created_at=message.created_at,
            url=message.jump_url,
            embeds=tuple(_embed_text(e) for e in message.embeds),
            attachments=tuple(files),
            audience=() if _public(message) else MODERATORS_ONLY,
            edited_at=message.edited_at,
            skipped=tuple(skipped),
        )
        if strict and not briefing.has_text and not files:
            reasons = "; ".join(f"{n}: {r}" for n, r in skipped)
            raise UserFacingError(
                "That message has no text and no attachment that can be a briefing"
                + (f" ({reasons})." if reasons else ".")
            )
        return briefing

    # ------------------------------------------------------------------ briefing channels

    def _watched(self, channel_id: int | None, guild_id: int | None) -> bool:
        """A briefing channel, in a server this process serves (never a message from elsewhere)."""
        settings = self.bot.settings
        return (
            channel_id is not None
            and channel_id in settings.briefing_channel_ids
            and guild_id is not None
            and guild_id in settings.guild_ids
            and self.bot.plan.owns(guild_id)
        )

    async def _counts(self, message: discord.Message) -> bool:
        """A message in a briefing channel becomes a briefing: posted there by a moderator."""
        guild_id = message.guild.id if message.guild is not None else None
        if not self._watched(message.channel.id, guild_id) or message.author.bot:
            return False
        author: discord.User | discord.Member | None = message.author
        if not isinstance(author, discord.Member) and message.guild is not None:
            # Messages read from history (and some edits) carry a user, not a member.
            author = message.guild.get_member(message.author.id)
            if author is None:
                try:
                    author = await message.guild.fetch_member(message.author.id)
                except discord.HTTPException:
                    return False  # left the server, or cannot be checked: not a moderator
        return author is not None and member_is_moderator(author, self.bot.settings)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if await self._counts(message):
            await self._store(message)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        if not self._watched(payload.channel_id, payload.guild_id):
            return
        tenant = self.bot.tenant(payload.guild_id)
        kept = await asyncio.to_thread(self._is_kept, tenant, payload.channel_id, payload.message_id)
        # Only its author can edit a message: one that was kept was a moderator's.
        if kept or await self._counts(payload.message):
            await self._store(payload.message)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if self._watched(payload.channel_id, payload.guild_id):
            await self._forget(self.bot.tenant(payload.guild_id), payload.channel_id, [payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        if self._watched(payload.channel_id, payload.guild_id):
            tenant = self.bot.tenant(payload.guild_id)
            await self._forget(tenant, payload.channel_id, list(payload.message_ids))

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self.bot.settings.briefing_channel_ids:
            await self.catch_up()

    async def _store(self, message: discord.Message) -> None:
        """Keep a counted message (of a watched channel, so of a served server) in its server's corpus."""
        assert message.guild is not None  # _counts checked it
        tenant = self.bot.tenant(message.guild.id)
        try:
            briefing = await self.briefing_of(message, strict=False)
            if not briefing.has_text and not briefing.attachments:
                return
            data = await asyncio.to_thread(to_eml, briefing)
            await tenant.handlers.put_corpus_file(briefing.rel_path, data)
        except (discord.HTTPException, UserFacingError, OSError):
            log.warning("could not keep message %s of a briefing channel", message.id, exc_info=True)
            return
        self.request_reindex(tenant)

    async def _forget(self, tenant: Tenant, channel_id: int, message_ids: list[int]) -> None:
        removed = [await tenant.handlers.delete_corpus_file(message_path(channel_id, m)) for m in message_ids]
        if any(removed):
            self.request_reindex(tenant)

    async def catch_up(self) -> None:
        """What was posted, edited or deleted in the briefing channels while the bot was away
        (the newest ``CATCH_UP_MESSAGES`` of each channel in a server this process serves)."""
        for channel_id in self.bot.settings.briefing_channel_ids:
            try:
                channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
                guild = getattr(channel, "guild", None)
                if guild is None or not self._watched(channel_id, guild.id):
                    continue  # another process's server, or none this bot serves
                tenant = self.bot.tenant(guild.id)
                if await self._catch_up_channel(tenant, channel_id, channel):
                    self.request_reindex(tenant)
            except (discord.HTTPException, OSError):
                log.warning("could not catch up with briefing channel %s", channel_id, exc_info=True)

    async def _catch_up_channel(self, tenant: Tenant, channel_id: int, channel: Any) -> bool:
        if not isinstance(channel, discord.abc.Messageable):
            return False
        known = await asyncio.to_thread(self._known_messages, tenant, channel_id)
        seen: set[int] = set()
        changed = False
        oldest: int | None = None
        count = 0
        async for message in channel.history(limit=CATCH_UP_MESSAGES):
            count += 1
            oldest = message.id
            if not await self._counts(message):
                continue
            seen.add(message.id)
            if message.id in known and message.edited_at is None:
                continue  # kept when it was posted, and unchanged since
            briefing = await self.briefing_of(message, strict=False)
            if not briefing.has_text and not briefing.attachments:
                continue
            data = await asyncio.to_thread(to_eml, briefing)
            if await asyncio.to_thread(self._differs, tenant, briefing.rel_path, data):
                await tenant.handlers.put_corpus_file(briefing.rel_path, data)
                changed = True
        # Kept messages in the span just read that are no longer there were deleted.
        reach = 0 if count < CATCH_UP_MESSAGES else (oldest or 0)
        gone = [m for m in known if m >= reach and m not in seen]
        for m in gone:
            changed |= await tenant.handlers.delete_corpus_file(message_path(channel_id, m))
        return changed

    def _known_messages(self, tenant: Tenant, channel_id: int) -> set[int]:
        folder = tenant.service.config.corpus_dir / FOLDER / str(channel_id)
        if not folder.is_dir():
            return set()
        return {int(p.stem) for p in folder.glob("*.eml") if p.stem.isdigit()}

    def _is_kept(self, tenant: Tenant, channel_id: int, message_id: int) -> bool:
        return (tenant.service.config.corpus_dir / message_path(channel_id, message_id)).is_file()

    def _differs(self, tenant: Tenant, rel_path: str, data: bytes) -> bool:
        path = tenant.service.config.corpus_dir / rel_path
        try:
            return path.read_bytes() != data
        except OSError:
            return True

    def request_reindex(self, tenant: Tenant) -> None:
        """Reindex ``tenant``'s corpus soon; several changes in a row share one reindex."""
        self._dirty[tenant.guild_id] = tenant
        if self._reindexer is None or self._reindexer.done():
            self._reindexer = asyncio.create_task(self._reindex_when_free(), name="briefbot-channel-reindex")

    async def _reindex_when_free(self) -> None:
        while self._dirty:
            key, tenant = next(iter(self._dirty.items()))
            del self._dirty[key]
            try:
                await self.bot.background_reindex(tenant, "briefing channel")
            except UserFacingError:  # another reindex of that corpus is running: try again shortly
                self._dirty.setdefault(key, tenant)
                await asyncio.sleep(RETRY_SECONDS)


class ConfirmView(discord.ui.View):
    """Confirm / Cancel under a preview; only the moderator who asked may press them."""

    def __init__(self, cog: IntakeCog, user_id: int, briefing: MessageBriefing, data: bytes) -> None:
        super().__init__(timeout=PREVIEW_TIMEOUT)
        self.cog = cog
        self.user_id = user_id
        self.briefing = briefing
        self.data = data

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.user.id != self.user_id:
            await interaction.response.send_message(
                "Only the moderator who asked can confirm this.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return False
        return True

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success)
    async def confirm(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        await guarded(interaction, lambda: self.cog.save(interaction, self.briefing, self.data))
        self.stop()

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        self.stop()
        await interaction.response.edit_message(
            content="Cancelled: nothing was added.", embed=None, view=None, allowed_mentions=NO_MENTIONS
        )


def preview_embed(briefing: MessageBriefing, docs: list[ParsedDocument]) -> discord.Embed:
    """How each briefing from the message will be attributed, and what is left out."""
    embed = discord.Embed(
        title="Add to briefings?",
        description=embeds.clip(
            f"{len(docs)} briefing{'s' if len(docs) != 1 else ''} from {briefing.url}, "
            f"{'visible to moderators only (the channel is private)' if briefing.audience else 'visible to everyone who asks'}.",
            embeds.DESCRIPTION_MAX,
        ),
        colour=PREVIEW_COLOUR,
    )
    for doc in docs[:PREVIEW_BRIEFINGS]:
        m = doc.meta
        lines = [f"{m.date_label}" + (f" — {m.source}" if m.source else ""), f"{len(doc.blocks)} paragraphs"]
        if m.url:
            lines.append(m.url)
        lines.extend(f"⚠ {w}" for w in m.warnings)
        embed.add_field(
            name=embeds.clip(m.title, PREVIEW_NAME_CHARS),
            value=embeds.clip("\n".join(lines), PREVIEW_VALUE_CHARS),
            inline=False,
        )
    if len(docs) > PREVIEW_BRIEFINGS:
        embed.add_field(name="And", value=f"{len(docs) - PREVIEW_BRIEFINGS} more briefings", inline=False)
    if briefing.skipped:
        left_out = "\n".join(f"{name}: {why}" for name, why in briefing.skipped)
        embed.add_field(name="Not added", value=embeds.clip(left_out, embeds.FIELD_VALUE_MAX), inline=False)
    embed.set_footer(text="Confirm to save it in the corpus folder and index it.")
    return embed


def _embed_text(embed: discord.Embed) -> EmbedText:
    return EmbedText(
        title=embed.title or "",
        description=embed.description or "",
        fields=tuple((f.name or "", f.value or "") for f in embed.fields),
        footer=embed.footer.text or "" if embed.footer else "",
    )


def _public(message: discord.Message) -> bool:
    """Whether everyone in the server can read the message's channel (fail closed: if the
    bot cannot tell, the briefing is for moderators only)."""
    channel = message.channel
    guild = message.guild
    if guild is None or not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        return False
    try:
        return channel.permissions_for(guild.default_role).view_channel
    except (AttributeError, TypeError):
        return False

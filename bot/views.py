"""Buttons under answers and lists, and the small store that lets them work after a restart.

Every button is a ``discord.ui.DynamicItem``: its custom id carries what it needs, so the bot
registers the classes once (``Client.add_dynamic_items``) and old messages keep working after
a restart, with no per-message state in memory.

- ``bb:ctx:<passage_id>:<index_version>``: the paragraphs around a quote;
- ``bb:full:<passage_id>:<index_version>``: a trimmed quote in full;
- ``bb:more:<key>`` and ``bb:post:<key>``: the next passages, and posting a private answer to
  the channel. A question does not fit in a 100-character custom id, so ``<key>`` names a row
  of the server's ``AnswerStore`` (``bot.answer_store``);
- ``bb:list:<page>:<p|n>``: pages of ``/briefing list``.

A passage id is a hash of the briefing, the position and the text, so a passage that changed
or disappeared is simply not found in the live index: the reply then says so, never showing
the old text as current.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import logging
import re
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import discord
from discord import app_commands

from bot import embeds, render
from bot.answer_store import AnswerRecord, AnswerStore
from bot.checks import (
    NO_MENTIONS,
    PUBLIC_DEFER,
    app,
    drop_public_placeholder,
    guarded,
    interaction_in_scope,
    member_is_moderator,
    refuse_out_of_scope,
    tenant_of,
    viewer_for,
)
from bot.errors import UserFacingError
from bot.feedback_store import ShownQuote, record_answer
from index.audience import EVERYONE, Viewer, describe
from index.models import Answer, BriefingMeta, Quote
from index.whatsnew import Digest

if TYPE_CHECKING:
    from bot.handlers import Handlers
    from bot.tenants import Tenant

__all__ = ["AnswerRecord", "AnswerStore"]  # re-exported: they lived here before

log = logging.getLogger(__name__)

CHOICES_MAX = 25
CHOICE_CHARS = 100
ANOTHER_SERVER = "This answer was given in another server; ask the question here."


# ---------------------------------------------------------------------------- answer records


async def _record(interaction: discord.Interaction[Any], key: str) -> AnswerRecord:
    """The record behind a button, from the clicker's server's store; one given in another
    server is refused (each server's store holds only its own, and each record names its server)."""
    try:
        record = await asyncio.to_thread(tenant_of(interaction).answers.get, key)
    except (sqlite3.Error, OSError, ValueError) as exc:
        log.error("the answer store cannot be read: %s", exc)
        raise UserFacingError("This button cannot work right now; ask the question again.") from exc
    if record is None:
        raise UserFacingError("This answer is too old to continue; ask the question again.")
    if record.guild_id is not None and record.guild_id != interaction.guild_id:
        log.warning("refused answer record %s of server %s in %s", key, record.guild_id, interaction.guild_id)
        raise UserFacingError(ANOTHER_SERVER)
    return record


# ---------------------------------------------------------------------------- sending answers


async def compose_answer(
    tenant: Tenant,
    answer: Answer,
    record: AnswerRecord,
    *,
    private: bool,
    heading: str | None = None,
    more: bool = False,
    asked_in_public: bool | None = None,
) -> tuple[embeds.AnswerMessage, discord.ui.View]:
    """The message for ``answer`` and its buttons; ``record`` is completed and stored for them,
    and the question is kept for the coverage-gaps report.

    In a channel (``private`` false) only strong quotes are shown: the weak ones wait behind
    "More passages". Callers send a public answer only when it has a strong quote.

    When the answer store cannot be written, the answer goes out without buttons (and it is
    logged): an unavailable ``answers.sqlite3`` never stops anyone getting an answer.
    """
    shown = answer if private else public_part(answer)
    msg = await asyncio.to_thread(
        embeds.answer_message, shown, first_number=record.first_number, heading=heading, more=more
    )
    record.version = answer.index_version
    record.shown = [q.passage_id for q in msg.quotes]
    record.shown_briefings = [q.briefing_id for q in msg.quotes]
    record.also_in = [[[o.briefing_id, render.also_in_item(o)] for o in q.also_in] for q in msg.quotes]
    record.strong = [q.strength == "strong" for q in msg.quotes]
    record.trimmed = msg.trimmed
    record.seen = [*record.seen, *record.shown]
    record.public = not private
    try:
        key = await asyncio.to_thread(tenant.answers.put, record)
    except (sqlite3.Error, OSError) as exc:
        log.error("the answer store cannot be written (%s): answering without buttons", exc)
        return msg, discord.ui.View(timeout=None)
    asked_in_public = not private if asked_in_public is None else asked_in_public
    if record.feedback_key is None:
        record.feedback_key = key
        await _keep_question(
            functools.partial(
                record_answer, tenant.feedback, key, record.question, answer, msg.quotes, asked_in_public
            )
        )
    return msg, answer_view(key, record, private=private, metas=await _metas_by_id(tenant, msg.quotes))


async def _keep_question(record: Callable[[], None]) -> None:
    """Keep a question for /gaps, in a thread; a failure costs the report a row, never the answer."""
    try:
        await asyncio.to_thread(record)
    except (sqlite3.Error, OSError):
        log.warning("could not keep the question for /gaps", exc_info=True)


def public_part(answer: Answer) -> Answer:
    """What of ``answer`` may stand in a channel: its strong quotes."""
    return dataclasses.replace(answer, quotes=[q for q in answer.quotes if q.strength == "strong"])


def answers_in_public(answer: Answer) -> bool:
    """An answer goes to the channel only when it has a strong quote; a non-answer ("hi", a
    question the briefings do not cover) goes to the asker alone."""
    return not answer.abstained and any(q.strength == "strong" for q in answer.quotes)


async def send_answer(
    interaction: discord.Interaction[Any],
    answer: Answer,
    record: AnswerRecord,
    *,
    private: bool,
    heading: str | None = None,
    more: bool = False,
) -> discord.WebhookMessage | None:
    """Follow up a deferred interaction with ``answer``, its quotes as embeds, and its buttons.

    A public answer without a strong quote is sent to the asker only (the public "thinking…"
    placeholder is removed). Returns the public message, if one was sent.
    """
    asked_in_public = not private
    if not private and not answers_in_public(answer):
        await drop_public_placeholder(interaction)
        private = True
    msg, view = await compose_answer(
        tenant_of(interaction),
        answer,
        record,
        private=private,
        heading=heading,
        more=more,
        asked_in_public=asked_in_public,
    )
    if private:
        await interaction.followup.send(
            content=msg.content, embeds=msg.embeds, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        return None
    sent = await interaction.followup.send(
        content=msg.content, embeds=msg.embeds, view=view, allowed_mentions=NO_MENTIONS, wait=True
    )
    # The placeholder is the answer now: a later error must not delete it.
    interaction.extras.pop(PUBLIC_DEFER, None)
    return sent


async def compose_digest(
    tenant: Tenant, digest: Digest, record: AnswerRecord, *, private: bool
) -> tuple[embeds.AnswerMessage, discord.ui.View]:
    """The "what's new" message: the newest briefings, Open briefing for each, 👍 / 👎, Delete."""
    from bot.answer_buttons import DeleteButton, VoteButton, open_briefing_item

    msg = embeds.digest_message(digest)
    record.version = digest.index_version
    record.public = not private
    key = await asyncio.to_thread(tenant.answers.put, record)
    shown = [
        ShownQuote(p.passage_id, i.meta.briefing_id, p.paragraph_label)
        for i in digest.items
        for p in i.takeaways
    ]
    audiences = [a for i in digest.items if not i.meta.is_public for a in i.meta.audience]
    await _keep_question(
        functools.partial(
            tenant.feedback.record_question,
            key,
            record.question,
            "answered" if digest.items else "nothing",
            public=not private,
            audiences=audiences,
            shown=shown,
            index_version=digest.index_version,
        )
    )
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(key, up=True))
    view.add_item(VoteButton(key, up=False))
    if not private:
        view.add_item(DeleteButton(key))
    for i, item in enumerate(digest.items[: len(msg.embeds)], 1):
        view.add_item(open_briefing_item(item.meta, f"Open briefing {i}"))
    return msg, view


def answer_view(
    key: str,
    record: AnswerRecord,
    *,
    private: bool,
    metas: dict[str, BriefingMeta] | None = None,
    posted: bool = False,
) -> discord.ui.View:
    """Row 0: More passages, Post to channel (private) or Delete (public), 👍 and 👎. Then per
    quote: Show context, Full passage (when trimmed), Open briefing; what does not fit in
    Discord's five rows is left out (Show context also offers Open briefing)."""
    from bot.answer_buttons import DeleteButton, VoteButton, open_briefing_item

    view = discord.ui.View(timeout=None)
    if record.shown:
        view.add_item(MoreButton(key))
    if private and any(record.strong):  # only confident quotes may go to the channel
        view.add_item(PostButton(key, disabled=posted))
    view.add_item(VoteButton(record.feedback_key or key, up=True))
    view.add_item(VoteButton(record.feedback_key or key, up=False))
    if not private:
        view.add_item(DeleteButton(key))
    numbered = len(record.shown) > 1
    items: list[discord.ui.Item[Any]] = []
    for i, pid in enumerate(record.shown):
        n = record.first_number + i
        items.append(
            ContextButton(pid, record.version, label=f"Show context {n}" if numbered else "Show context")
        )
    for i, pid in enumerate(record.shown):
        if i < len(record.trimmed) and record.trimmed[i]:
            n = record.first_number + i
            items.append(
                FullButton(pid, record.version, label=f"Full passage {n}" if numbered else "Full passage")
            )
    opened: set[str] = set()
    for i, bid in enumerate(record.shown_briefings):
        meta = (metas or {}).get(bid)
        if meta is not None and bid not in opened:
            opened.add(bid)
            several = len(set(record.shown_briefings)) > 1
            label = f"Open briefing {record.first_number + i}" if several else "Open briefing"
            items.append(open_briefing_item(meta, label))
    for j, item in enumerate(items[: 5 * 4]):
        item.row = 1 + j // 5
        view.add_item(item)
    return view


async def _metas_by_id(tenant: Tenant, quotes: Sequence[Quote]) -> dict[str, BriefingMeta]:
    """The briefings of ``quotes`` (they were shown, so the asker may see them)."""
    wanted = {q.briefing_id for q in quotes}
    if not wanted:
        return {}
    return {m.briefing_id: m for m in await tenant.handlers.briefings() if m.briefing_id in wanted}


# ---------------------------------------------------------------------------- buttons

_KEY = r"(?P<key>[A-Za-z0-9_-]{4,32})"
_PASSAGE = r"(?P<pid>[0-9a-f]{8,32}):(?P<version>[A-Za-z0-9._-]{1,64})"
_NEVER = r"(?!)"  # the shared bases below are never dispatched themselves


class _Button(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_NEVER):
    """A stateless persistent button: refusals and errors reach the clicker via ``guarded``.

    Every button passes the server-scope check first (clicks from other servers do nothing),
    then the per-person click rate limit. New buttons subclass this."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if interaction_in_scope(interaction):
            return True
        await refuse_out_of_scope(interaction)
        return False

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, lambda: self._limited(interaction))

    async def _limited(self, interaction: discord.Interaction[Any]) -> None:
        retry_after = app(interaction).button_limiter.hit(interaction.user.id)
        if retry_after:
            raise UserFacingError(f"You are clicking quickly: try again in {max(1, round(retry_after))} s.")
        await self.run(interaction)

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError


class _AnswerButton(_Button, template=_NEVER):
    """A button about a whole answer: ``bb:<prefix>:<key>`` with the key of its ``AnswerRecord``."""

    prefix: ClassVar[str]
    text: ClassVar[str]
    style: ClassVar[discord.ButtonStyle]

    def __init__(self, key: str, *, disabled: bool = False) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=self.text, style=self.style, custom_id=f"bb:{self.prefix}:{key}", row=0, disabled=disabled
        )
        super().__init__(button)
        self.key = key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["key"])


class _PassageButton(_Button, template=_NEVER):
    """A button about one passage: ``bb:<prefix>:<passage_id>:<index_version>``."""

    prefix: ClassVar[str]

    def __init__(self, passage_id: str, version: str, *, label: str, row: int | None = None) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=label,
            style=discord.ButtonStyle.secondary,
            custom_id=f"bb:{self.prefix}:{passage_id}:{version}",
            row=row,
        )
        super().__init__(button)
        self.passage_id = passage_id
        self.version = version

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["pid"], match["version"], label=getattr(item, "label", None) or "Show")


class MoreButton(_AnswerButton, template=rf"bb:more:{_KEY}"):
    """The next passages for the question, shown only to the person who clicks."""

    prefix, text, style = "more", "More passages", discord.ButtonStyle.primary

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        record = await _record(interaction, self.key)
        answer = await tenant_of(interaction).handlers.more(
            record.question,
            shown=len(record.seen),
            viewer=viewer_for(interaction, public=False),
            briefing_id=record.briefing_id,
            since=record.since,
        )
        # A private viewer may see passages the first (public) answer left out: skip repeats.
        seen = set(record.seen)
        answer.quotes = [q for q in answer.quotes if q.passage_id not in seen]
        if not answer.quotes:
            await interaction.followup.send("No more passages.", ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        nxt = AnswerRecord(
            record.question,
            record.briefing_id,
            record.since,
            seen=record.seen,
            first_number=len(record.seen) + 1,
            asker_id=interaction.user.id,
            feedback_key=record.feedback_key or self.key,
            guild_id=interaction.guild_id,
        )
        heading = "More passages for: " + record.question
        await send_answer(interaction, answer, nxt, private=True, heading=heading, more=True)


class PostButton(_AnswerButton, template=rf"bb:post:{_KEY}"):
    """Post a private answer to the channel, if every quote comes from a public briefing.

    Nothing public appears until the checks pass, and a refusal (which may name a restricted
    briefing) is private. "Also in" entries from briefings that are not public are left out."""

    prefix, text, style = "post", "Post to channel", discord.ButtonStyle.secondary

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        # A deferred update: nothing public appears until the checks pass, and the private
        # answer's own buttons can be updated afterwards (Post to channel, disabled).
        await interaction.response.defer()
        tenant = tenant_of(interaction)
        record = await _record(interaction, self.key)
        strong = (
            [i for i, ok in enumerate(record.strong) if ok]
            if record.strong
            else list(range(len(record.shown)))
        )
        if not strong:
            raise UserFacingError("This answer has no confident quote to post; only you can see it.")
        handlers = tenant.handlers
        metas = await handlers.metas({*record.shown_briefings, *(b for q in record.also_in for b, _ in q)})
        for bid in record.shown_briefings:
            meta = metas.get(bid)
            if meta is None:
                raise UserFacingError(
                    "A briefing in this answer has been removed since; ask again for a current answer."
                )
            if not meta.is_public:
                raise UserFacingError(
                    f"This answer quotes “{meta.title}”, which is not public "
                    f"(audience: {describe(meta.audience)}), so it cannot be posted to the channel."
                )
        for pid in record.shown:  # raises when a passage changed or was removed since
            await handlers.context(pid, viewer=EVERYONE, around=0)
        if not await asyncio.to_thread(tenant.answers.claim, self.key, "post"):
            raise UserFacingError("This answer has already been posted to the channel.")
        source = interaction.message
        content = f"{interaction.user.mention} shared an answer."  # a mention that pings nobody
        if source is not None and source.content:
            content = (content + "\n" + source.content)[: embeds.CONTENT_MAX]
        public_also = [
            [[bid, label] for bid, label in entries if (m := metas.get(bid)) is not None and m.is_public]
            for entries in record.also_in
        ]
        shared = dataclasses.replace(
            record,
            shown=[record.shown[i] for i in strong],
            shown_briefings=[record.shown_briefings[i] for i in strong],
            also_in=[public_also[i] for i in strong if i < len(public_also)],
            trimmed=[record.trimmed[i] for i in strong if i < len(record.trimmed)],
            strong=[True] * len(strong),
            asker_id=interaction.user.id,
            public=True,
            feedback_key=record.feedback_key or self.key,
        )
        key = await asyncio.to_thread(tenant.answers.put, shared)
        try:
            await interaction.followup.send(
                content=content,
                embeds=[
                    embeds.with_also_in(
                        source.embeds[i],
                        [label for _, label in (public_also[i] if i < len(public_also) else [])],
                    )
                    for i in strong
                    if i < len(source.embeds)
                ]
                if source is not None
                else [],
                view=answer_view(key, shared, private=False, metas=metas),
                allowed_mentions=NO_MENTIONS,
            )
        except BaseException:
            await asyncio.to_thread(tenant.answers.release, self.key, "post")
            raise
        try:  # the private answer's button now says it has been used
            view = answer_view(self.key, record, private=True, metas=metas, posted=True)
            await interaction.edit_original_response(view=view, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.warning("could not disable Post to channel", exc_info=True)


class ContextButton(_PassageButton, template=rf"bb:ctx:{_PASSAGE}"):
    """The paragraphs before and after a quoted passage, if it is still current."""

    prefix = "ctx"

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        handlers = tenant_of(interaction).handlers
        viewer = viewer_for(interaction, public=False)
        passages = await handlers.context(self.passage_id, viewer=viewer, around=1)
        meta = await _meta_of(interaction, passages[0].briefing_id if passages else None, viewer)
        live = await asyncio.to_thread(lambda: handlers.service.searcher().index.version)
        note = None
        if live != self.version:
            note = "The index has been updated since this answer; this passage is unchanged."
        msg = await asyncio.to_thread(embeds.context_message, passages, self.passage_id, meta, note)
        view = discord.ui.View(timeout=None)
        for p, cut in zip(passages, msg.trimmed, strict=False):
            if cut:
                view.add_item(FullButton(p.passage_id, live, label=f"Full ¶ {p.paragraph_label}"))
        await interaction.followup.send(
            content=msg.content, embeds=msg.embeds, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
        )


class FullButton(_PassageButton, template=rf"bb:full:{_PASSAGE}"):
    """A trimmed passage in full, in as many messages as it takes (or as a file)."""

    prefix = "full"

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        viewer = viewer_for(interaction, public=False)
        passages = await tenant_of(interaction).handlers.context(self.passage_id, viewer=viewer, around=0)
        passage = next((p for p in passages if p.passage_id == self.passage_id), None)
        if passage is None:
            raise UserFacingError("That passage has changed or been removed since this answer was given.")
        meta = await _meta_of(interaction, passage.briefing_id, viewer)
        where = (
            f"{meta.title} ({meta.when_label}), {render.paragraph_ref(passage.paragraph_label, passage.page)}"
            if meta
            else passage.briefing_id
        )
        most = embeds.FULL_PASSAGE_MAX_MESSAGES
        pages = await asyncio.to_thread(embeds.full_passage_pages, passage.text, max_pages=most)
        if len(pages) > most:
            data = io.BytesIO(passage.text.encode("utf-8"))
            await interaction.followup.send(
                content=embeds.clip(f"The full passage: {where}", embeds.CONTENT_MAX),
                file=discord.File(data, filename="passage.txt"),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        for i, page in enumerate(pages, 1):
            embed = discord.Embed(description=page, colour=embeds.CONTEXT_COLOUR)
            embed.set_footer(text=embeds.clip(f"{where} — part {i} of {len(pages)}", embeds.FOOTER_MAX))
            await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


class BriefingsPageButton(_Button, template=r"bb:list:(?P<page>\d{1,5}):[pn]"):
    """Previous / next page of ``/briefing list`` (moderators only, like the command)."""

    def __init__(self, page: int, *, forward: bool, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Next ▶" if forward else "◀ Previous",
                style=discord.ButtonStyle.secondary,
                custom_id=f"bb:list:{page}:{'n' if forward else 'p'}",
                disabled=disabled,
            )
        )
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> BriefingsPageButton:
        return cls(int(match["page"]), forward=match.group(0).endswith("n"))

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        bot = app(interaction)
        if not member_is_moderator(interaction.user, bot.settings):
            raise app_commands.CheckFailure()
        await interaction.response.defer()
        embed, view = await briefings_list(interaction, self.page)
        await interaction.edit_original_response(embed=embed, view=view, allowed_mentions=NO_MENTIONS)


class PublishAnywayButton(_Button, template=r"bb:shrink:(?P<mode>update|full):(?P<lost>\d{1,9})"):
    """A moderator's confirmation that a reindex may remove the briefings its refusal listed
    (``--allow-shrink`` for that many: if more would go by the time it is clicked, it is refused again)."""

    def __init__(self, mode: str, lost: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Publish anyway",
                style=discord.ButtonStyle.danger,
                custom_id=f"bb:shrink:{mode}:{lost}",
            )
        )
        self.mode = mode
        self.lost = lost

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PublishAnywayButton:
        return cls(match["mode"], int(match["lost"]))

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        bot = app(interaction)
        if interaction.guild is None or not member_is_moderator(interaction.user, bot.settings):
            raise app_commands.CheckFailure()
        cog: Any = bot.get_cog("ModerationCog")
        await cog.run_reindex(interaction, self.mode, confirmed_loss=self.lost)


async def briefings_list(
    interaction: discord.Interaction[Any], page: int
) -> tuple[discord.Embed, discord.ui.View]:
    """One page of the briefing list with its page buttons."""
    metas = await tenant_of(interaction).handlers.briefings()
    embed, pages = embeds.briefings_page(metas, page)
    page = min(max(page, 0), pages - 1)
    view = discord.ui.View(timeout=None)
    if pages > 1:
        view.add_item(BriefingsPageButton(max(page - 1, 0), forward=False, disabled=page == 0))
        view.add_item(BriefingsPageButton(min(page + 1, pages - 1), forward=True, disabled=page == pages - 1))
    return embed, view


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    MoreButton,
    PostButton,
    ContextButton,
    FullButton,
    BriefingsPageButton,
    PublishAnywayButton,
)


# ---------------------------------------------------------------------------- helpers


async def _meta_of(
    interaction: discord.Interaction[Any], briefing_id: str | None, viewer: Viewer
) -> BriefingMeta | None:
    if briefing_id is None:
        return None
    meta = (await tenant_of(interaction).handlers.metas([briefing_id])).get(briefing_id)
    return meta if meta is not None and viewer.may_see(meta.audience) else None


async def briefing_options(
    handlers: Handlers, viewer: Viewer, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete choices for a briefing option, among the briefings ``viewer`` may see
    (autocomplete runs no command checks: the viewer is the only filter), matched and sorted
    in a thread."""
    metas = await handlers.find_briefings(current, viewer=viewer)
    return briefing_choices(metas, current, presorted=True)


def briefing_choices(
    metas: Sequence[BriefingMeta], current: str, *, presorted: bool = False
) -> list[app_commands.Choice[str]]:
    """Autocomplete choices for a briefing option: id or title containing what was typed."""
    typed = current.casefold().strip()
    out: list[app_commands.Choice[str]] = []
    ordered = metas if presorted else sorted(metas, key=lambda m: m.date_label, reverse=True)
    for m in ordered:
        if len(m.briefing_id) > CHOICE_CHARS:
            continue  # cannot be a choice value; still reachable by asking without the filter
        if typed and typed not in m.briefing_id.casefold() and typed not in m.title.casefold():
            continue
        name = f"{m.title} ({m.when_label})"
        if len(name) > CHOICE_CHARS:
            name = name[: CHOICE_CHARS - 1] + "…"
        out.append(app_commands.Choice(name=name, value=m.briefing_id))
        if len(out) == CHOICES_MAX:
            break
    return out

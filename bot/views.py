"""Buttons under answers and lists, and the small store that lets them work after a restart.

Every button is a ``discord.ui.DynamicItem``: its custom id carries what it needs, so the bot
registers the classes once (``Client.add_dynamic_items``) and old messages keep working after
a restart, with no per-message state in memory.

- ``bb:ctx:<passage_id>:<index_version>``: the paragraphs around a quote;
- ``bb:full:<passage_id>:<index_version>``: a trimmed quote in full;
- ``bb:more:<key>`` and ``bb:post:<key>``: the next passages, and posting a private answer to
  the channel. A question does not fit in a 100-character custom id, so ``<key>`` names a row
  of ``AnswerStore``, a small SQLite file (``answers.sqlite3``) beside the index folder;
- ``bb:list:<page>:<p|n>``: pages of ``/briefing list``.

A passage id is a hash of the briefing, the position and the text, so a passage that changed
or disappeared is simply not found in the live index: the reply then says so, never showing
the old text as current.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import secrets
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import discord
from discord import app_commands

from bot import embeds, render
from bot.checks import (
    NO_MENTIONS,
    app,
    guarded,
    interaction_in_scope,
    member_is_moderator,
    refuse_out_of_scope,
    viewer_for,
)
from bot.errors import UserFacingError
from index.audience import EVERYONE, Viewer, describe
from index.models import Answer, BriefingMeta

if TYPE_CHECKING:
    from bot.client import BriefBot
    from bot.handlers import Handlers

log = logging.getLogger(__name__)

KEEP_ANSWERS_DAYS = 90
CHOICES_MAX = 25
CHOICE_CHARS = 100


# ---------------------------------------------------------------------------- answer store


@dataclass
class AnswerRecord:
    """What the buttons under one answer message need: the question and what it showed."""

    question: str
    briefing_id: str | None = None
    since: str | None = None
    version: str = ""
    shown: list[str] = field(default_factory=list)  # passage ids in this message, in order
    shown_briefings: list[str] = field(default_factory=list)
    # Per shown quote, its "Also in" entries as [briefing_id, label]: posting to a channel keeps
    # only the public ones.
    also_in: list[list[list[str]]] = field(default_factory=list)
    trimmed: list[bool] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # passage ids shown so far, earlier pages too
    first_number: int = 1

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> AnswerRecord:
        data = json.loads(text)
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


class AnswerStore:
    """Answer records by short random key, in one SQLite file. Blocking: call from a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10)
        con.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, created REAL, record TEXT)")
        return con

    def put(self, record: AnswerRecord) -> str:
        """Store ``record`` under a new key (and forget records older than 90 days)."""
        key = secrets.token_urlsafe(8)
        now = time.time()
        with closing(self._connect()) as con, con:
            con.execute("INSERT INTO answers VALUES (?, ?, ?)", (key, now, record.to_json()))
            con.execute("DELETE FROM answers WHERE created < ?", (now - KEEP_ANSWERS_DAYS * 86400,))
        return key

    def get(self, key: str) -> AnswerRecord | None:
        with closing(self._connect()) as con:
            row = con.execute("SELECT record FROM answers WHERE key = ?", (key,)).fetchone()
        return AnswerRecord.from_json(row[0]) if row else None


async def _record(interaction: discord.Interaction[Any], key: str) -> AnswerRecord:
    try:
        record = await asyncio.to_thread(app(interaction).answers.get, key)
    except (sqlite3.Error, OSError, ValueError) as exc:
        log.error("the answer store cannot be read: %s", exc)
        raise UserFacingError("This button cannot work right now; ask the question again.") from exc
    if record is None:
        raise UserFacingError("This answer is too old to continue; ask the question again.")
    return record


# ---------------------------------------------------------------------------- sending answers


async def compose_answer(
    bot: BriefBot, answer: Answer, record: AnswerRecord, *, private: bool, heading: str | None = None
) -> tuple[embeds.AnswerMessage, discord.ui.View]:
    """The message for ``answer`` and its buttons; ``record`` is completed and stored for them.

    When the answer store cannot be written, the answer goes out without buttons (and it is
    logged): an unavailable ``answers.sqlite3`` never stops anyone getting an answer."""
    msg = await asyncio.to_thread(
        embeds.answer_message, answer, first_number=record.first_number, heading=heading
    )
    record.version = answer.index_version
    record.shown = [q.passage_id for q in msg.quotes]
    record.shown_briefings = [q.briefing_id for q in msg.quotes]
    record.also_in = [[[o.briefing_id, render.also_in_item(o)] for o in q.also_in] for q in msg.quotes]
    record.trimmed = msg.trimmed
    record.seen = [*record.seen, *record.shown]
    try:
        key = await asyncio.to_thread(bot.answers.put, record)
    except (sqlite3.Error, OSError) as exc:
        log.error("the answer store cannot be written (%s): answering without buttons", exc)
        return msg, discord.ui.View(timeout=None)
    return msg, answer_view(key, record, private=private)


async def send_answer(
    interaction: discord.Interaction[Any],
    answer: Answer,
    record: AnswerRecord,
    *,
    private: bool,
    heading: str | None = None,
) -> None:
    """Follow up a deferred interaction with ``answer``, its quotes as embeds, and its buttons."""
    msg, view = await compose_answer(app(interaction), answer, record, private=private, heading=heading)
    await interaction.followup.send(
        content=msg.content, embeds=msg.embeds, view=view, ephemeral=private, allowed_mentions=NO_MENTIONS
    )


def answer_view(key: str, record: AnswerRecord, *, private: bool) -> discord.ui.View:
    """More passages, (on a private answer) Post to channel, and per-quote context buttons."""
    view = discord.ui.View(timeout=None)
    if record.shown:
        view.add_item(MoreButton(key))
    if private and record.shown:
        view.add_item(PostButton(key))
    numbered = len(record.shown) > 1
    for i, pid in enumerate(record.shown):
        n = record.first_number + i
        label = f"Show context {n}" if numbered else "Show context"
        view.add_item(ContextButton(pid, record.version, label=label, row=1 + i // 5))
    full = [(i, pid) for i, pid in enumerate(record.shown) if i < len(record.trimmed) and record.trimmed[i]]
    for j, (i, pid) in enumerate(full):
        n = record.first_number + i
        label = f"Full passage {n}" if numbered else "Full passage"
        view.add_item(FullButton(pid, record.version, label=label, row=3 + j // 5))
    return view


# ---------------------------------------------------------------------------- buttons

_KEY = r"(?P<key>[A-Za-z0-9_-]{4,32})"
_PASSAGE = r"(?P<pid>[0-9a-f]{8,32}):(?P<version>[A-Za-z0-9._-]{1,64})"
_NEVER = r"(?!)"  # the shared bases below are never dispatched themselves


class _Button(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_NEVER):
    """A stateless persistent button: refusals and errors reach the clicker via ``guarded``.

    Every button passes the server-scope check first (clicks from other servers do nothing),
    then the per-person click rate limit."""

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

    def __init__(self, key: str) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=self.text, style=self.style, custom_id=f"bb:{self.prefix}:{key}", row=0
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
        answer = await app(interaction).handlers.more(
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
        )
        heading = "More passages for: " + record.question
        await send_answer(interaction, answer, nxt, private=True, heading=heading)


class PostButton(_AnswerButton, template=rf"bb:post:{_KEY}"):
    """Post a private answer to the channel, if every quote comes from a public briefing.

    It is acknowledged privately: a refusal, which may name a restricted briefing, can then
    never land in a public message, even when Discord fails part-way. "Also in" entries from
    briefings that are not public are left out of what is posted."""

    prefix, text, style = "post", "Post to channel", discord.ButtonStyle.secondary

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        record = await _record(interaction, self.key)
        handlers = app(interaction).handlers
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
        source = interaction.message
        shown = list(source.embeds) if source is not None else []
        public_embeds = []
        for i, embed in enumerate(shown):
            entries = record.also_in[i] if i < len(record.also_in) else []
            public = [label for bid, label in entries if (m := metas.get(bid)) is not None and m.is_public]
            public_embeds.append(embeds.with_also_in(embed, public))
        content = f"{interaction.user.mention} shared an answer."  # a mention that pings nobody
        if source is not None and source.content:
            content = (content + "\n" + source.content)[: embeds.CONTENT_MAX]
        await interaction.edit_original_response(
            content="Posted to the channel.", allowed_mentions=NO_MENTIONS
        )
        await interaction.followup.send(
            content=content,
            embeds=public_embeds,
            view=answer_view(self.key, record, private=False),
            allowed_mentions=NO_MENTIONS,
        )


class ContextButton(_PassageButton, template=rf"bb:ctx:{_PASSAGE}"):
    """The paragraphs before and after a quoted passage, if it is still current."""

    prefix = "ctx"

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        handlers = app(interaction).handlers
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
        passages = await app(interaction).handlers.context(self.passage_id, viewer=viewer, around=0)
        passage = next((p for p in passages if p.passage_id == self.passage_id), None)
        if passage is None:
            raise UserFacingError("That passage has changed or been removed since this answer was given.")
        meta = await _meta_of(interaction, passage.briefing_id, viewer)
        where = (
            f"{meta.title} ({meta.date_label}), ¶ {passage.paragraph_label}" if meta else passage.briefing_id
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
    metas = await app(interaction).handlers.briefings()
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
    meta = (await app(interaction).handlers.metas([briefing_id])).get(briefing_id)
    return meta if meta is not None and viewer.may_see(meta.audience) else None


async def briefing_options(
    handlers: Handlers, viewer: Viewer, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete choices for a briefing option, among the briefings ``viewer`` may see
    (autocomplete runs no command checks: the viewer is the only filter)."""
    metas = await handlers.find_briefings(current, viewer=viewer)
    return briefing_choices(metas, current)


def briefing_choices(metas: Sequence[BriefingMeta], current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete choices from briefings already matched (newest first) to what was typed."""
    out: list[app_commands.Choice[str]] = []
    for m in metas:
        if len(m.briefing_id) > CHOICE_CHARS:
            continue  # cannot be a choice value; still reachable by asking without the filter
        name = f"{m.title} ({m.date_label})"
        if len(name) > CHOICE_CHARS:
            name = name[: CHOICE_CHARS - 1] + "…"
        out.append(app_commands.Choice(name=name, value=m.briefing_id))
        if len(out) == CHOICES_MAX:
            break
    return out

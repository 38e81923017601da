"""The Discord bot: a ``commands.Bot`` around the shared ``Handlers``, and ``briefbot run``.

Dependencies come in through the constructor (settings, handlers); nothing is global. Slow
work (the model, index builds, file and SQLite I/O) always runs in worker threads, so every
interaction is acknowledged at once.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import embeds, render
from bot.answer_buttons import DYNAMIC_ITEMS as ANSWER_ITEMS
from bot.checks import NO_MENTIONS, interaction_in_scope, modlog_exposure, refuse_out_of_scope, report_error
from bot.errors import UserFacingError
from bot.feedback_store import FeedbackStore
from bot.handlers import Handlers
from bot.ratelimit import RateLimiter
from bot.reader import DYNAMIC_ITEMS as READER_ITEMS
from bot.settings import Settings
from bot.views import DYNAMIC_ITEMS, AnswerStore
from index.corpus import iter_corpus
from index.manifest import write_json_atomic
from index.models import ReindexReport
from index.service import BriefingService

log = logging.getLogger(__name__)

# The bot never joins voice: no warnings about voice libraries on every start.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

ANSWERS_FILE = "answers.sqlite3"
SYNC_STATE = "commands_synced.json"  # the servers the commands were synced to last: {"guild_ids": [...]}
FEEDBACK_FILE = "feedback.sqlite3"
MODLOG_WITHHELD = (
    "Briefbot has a report for moderators, but this channel can be read by people who are not "
    "moderators, so it is not posted here: see `/status`, and make the channel moderators-only."
)
README_HINT = "Set it in the environment or in .env; see README.md, “Configuration”."


class BriefTree(app_commands.CommandTree["BriefBot"]):
    """The command tree: it ignores other servers, and answers every failure with one ephemeral line."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        # Slash commands, context menus and autocomplete all pass here first.
        if interaction_in_scope(interaction):
            return True
        await refuse_out_of_scope(interaction)
        return False

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)


class ReindexGate:
    """One reindex at a time from this bot, claimed before the first ``await`` so two clicks
    cannot both pass; the service's file lock covers other processes (the console, the CLI)."""

    def __init__(self) -> None:
        self.holder: str | None = None

    @contextmanager
    def hold(self, who: str) -> Iterator[None]:
        if self.holder is not None:
            raise UserFacingError(
                f"A reindex is already running (started by {self.holder}). Try again when it has finished."
            )
        self.holder = who
        try:
            yield
        finally:
            self.holder = None


class BriefBot(commands.Bot):
    """Answers questions over the briefings; moderators manage the corpus and the index."""

    def __init__(self, settings: Settings, handlers: Handlers) -> None:
        intents = discord.Intents.default()
        # Slash commands need no privileged intent; only replies to mentions, follow-ups typed
        # in answer threads and briefing channels read messages.
        intents.message_content = (
            settings.mention_replies or bool(settings.thread_channels) or bool(settings.briefing_channel_ids)
        )
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            tree_cls=BriefTree,
            help_command=None,
        )
        self.settings = settings
        self.handlers = handlers
        self.answers = AnswerStore(settings.data_dir / ANSWERS_FILE, settings.keep_questions_days)
        # Discord's clock (a test's virtual one too): questions, votes and weekly reports agree.
        self.feedback = FeedbackStore(
            settings.data_dir / FEEDBACK_FILE, settings.keep_questions_days, clock=_discord_now
        )
        self.ask_limiter = RateLimiter(settings.ask_rate_limit, settings.ask_rate_window)
        self.button_limiter = RateLimiter(settings.button_rate_limit, settings.button_rate_window)
        self.reindex_gate = ReindexGate()
        self.modlog_problem: str | None = None  # why the last mod-log post failed (or was withheld)
        self.synced: dict[int, int] = {}  # server id -> commands registered there
        self.synced_global = 0  # commands registered globally (the DM /ask, with allow_dms)
        self._last_problems: tuple[tuple[tuple[str, str], ...], str | None] = ((), None)
        self._announced = False
        self._watcher: CorpusWatcher | None = None
        self._watch: tasks.Loop[Any] | None = None
        self._periodic: tasks.Loop[Any] | None = None

    async def setup_hook(self) -> None:
        for cog in cogs(self):
            await self.add_cog(cog)
        self.add_dynamic_items(*DYNAMIC_ITEMS, *ANSWER_ITEMS, *READER_ITEMS)
        for guild_id in sorted(self.settings.guild_ids):
            self.tree.copy_global_to(guild=discord.Object(id=guild_id))
        await self.sync_commands()
        await self._forget_expired()
        self._start_background()

    async def _forget_expired(self) -> None:
        """Delete questions, feedback and removed briefings past their time (also on every new
        question, and when the trash is listed); a failure is logged, never fatal."""
        trash = self.handlers.trash
        try:
            await asyncio.to_thread(self.feedback.purge)
            if trash is not None:
                await asyncio.to_thread(trash.purge)
        except Exception:
            log.warning("could not delete expired questions or removed briefings", exc_info=True)

    async def on_message(self, message: discord.Message, /) -> None:
        # No prefix commands: mentions are handled by the ask cog's listener.
        return

    async def on_ready(self) -> None:
        """Leave servers not in ``DISCORD_GUILD_IDS`` (joined while offline); then, once per
        process, say where the bot is and how to invite it."""
        for guild in list(self.guilds):
            await self.enforce_scope(guild)
        if self._announced or self.user is None:
            return
        self._announced = True
        n = len(self.guilds)
        print(
            f"briefbot: ready in {n} guild{'s' if n != 1 else ''} as {self.user} (id {self.user.id}).",
            file=sys.stderr,
        )
        if self.application_id is not None:
            print(f"briefbot: invite link: {invite_url(self.application_id, self.settings)}", file=sys.stderr)

    # ------------------------------------------------------------------ server scope

    async def sync_commands(self) -> None:
        """Register the commands with Discord: in each allowed server (instant), and globally only
        the DM ``/ask`` when ``allow_dms`` is on. Registering the global set also clears what an
        older version registered globally, so no other server ever sees a command."""
        assert self.application_id is not None  # set at login, before setup_hook
        registered = await self.http.bulk_upsert_global_commands(self.application_id, self.global_payloads())
        self.synced_global = len(registered)
        for guild_id in sorted(self.settings.guild_ids):
            await self.sync_guild(guild_id)
        await self._clear_previous_scope()

    def global_payloads(self) -> list[dict[str, Any]]:
        """What is registered globally: nothing, or ``/ask`` for direct messages (public briefings)."""
        ask = self.tree.get_command("ask")
        if not self.settings.allow_dms or ask is None:
            return []
        payload = ask.to_dict(self.tree)
        payload["options"] = [o for o in payload.get("options", []) if o["name"] != "private"]
        payload["contexts"] = [1]  # the bot's direct messages only
        payload["integration_types"] = [0]  # installed in a server, not by a person
        payload["description"] = "Answer a question by quoting the public briefings"
        return [payload]

    async def sync_guild(self, guild_id: int) -> bool:
        """Register the commands in one allowed server; False when Discord refuses (not a member yet)."""
        try:
            synced = await self.tree.sync(guild=discord.Object(id=guild_id))
        except discord.HTTPException as exc:
            log.warning(
                "cannot register commands in server %s (%s): invite the bot there; "
                "commands appear when it joins",
                guild_id,
                exc.text or exc.status,
            )
            return False
        self.synced[guild_id] = len(synced)
        return True

    async def _clear_previous_scope(self) -> None:
        """Servers the commands were registered in last time but no longer allowed keep their
        commands until removed: remove them (the global set is rewritten at every start)."""
        path = self.settings.data_dir / SYNC_STATE
        previous = await asyncio.to_thread(_read_sync_state, path)
        current = set(self.settings.guild_ids)
        assert self.application_id is not None
        for old in sorted(previous - current):
            try:
                await self.http.bulk_upsert_guild_commands(self.application_id, old, [])
                log.info("removed the commands registered before in server %s", old)
            except discord.HTTPException:
                log.info("could not remove the commands registered before in server %s", old, exc_info=True)
        try:
            await asyncio.to_thread(write_json_atomic, path, {"guild_ids": sorted(current)})
        except OSError:
            log.warning("could not record where the commands are registered", exc_info=True)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.enforce_scope(guild)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self.enforce_scope(guild)

    async def enforce_scope(self, guild: discord.Guild) -> None:
        """Stay in an allowed server (registering its commands if not done yet); leave any other."""
        if guild.id in self.settings.guild_ids:
            if guild.id not in self.synced:
                await self.sync_guild(guild.id)
            return
        log.warning("leaving server %r (%s): it is not in DISCORD_GUILD_IDS", guild.name, guild.id)
        try:
            await guild.leave()
        except discord.HTTPException:
            log.error("could not leave server %s; it is still ignored", guild.id, exc_info=True)

    async def prepare(self) -> ReindexReport | None:
        """Load the model and build the index if there is none, in threads, before connecting."""
        service = self.handlers.service
        await asyncio.to_thread(service.embedder.encode_query, "warm up")
        return await asyncio.to_thread(service.ensure_index)

    async def close(self) -> None:
        for loop in (self._watch, self._periodic):
            if loop is not None:
                loop.cancel()
        await super().close()

    # ------------------------------------------------------------------ mod-log

    async def modlog(
        self,
        content: str | None = None,
        *,
        embed: discord.Embed | None = None,
        file: discord.File | None = None,
    ) -> None:
        """Post to the moderators' log channel, if one is configured; failures are logged and
        kept for ``/status`` (``modlog_problem``).

        Reports name briefings, restricted ones too, so the details go only to a channel in a
        served server that no one but moderators can read; otherwise one neutral line does."""
        channel_id = self.settings.modlog_channel_id
        if channel_id is None:
            return
        try:
            channel = self.get_channel(channel_id) or await self.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                log.warning("mod-log channel %s cannot receive messages", channel_id)
                self.modlog_problem = "it is not a channel messages can be sent to"
                return
            exposure = modlog_exposure(channel, self.settings)
            if exposure is not None:
                log.warning("mod-log channel %s: %s; its details are not posted there", channel_id, exposure)
                self.modlog_problem = f"{exposure}, so reports are not posted there"
                if (
                    isinstance(channel, discord.abc.GuildChannel)
                    and channel.guild.id in self.settings.guild_ids
                ):
                    await channel.send(MODLOG_WITHHELD, allowed_mentions=NO_MENTIONS)
                return
            files = [file] if file is not None else []
            await channel.send(
                content=content, embeds=[embed] if embed else [], files=files, allowed_mentions=NO_MENTIONS
            )
            self.modlog_problem = None
        except discord.HTTPException as exc:
            log.warning("could not post to the mod-log channel %s", channel_id, exc_info=True)
            self.modlog_problem = f"the last post failed ({exc.status} {exc.text or exc.__class__.__name__})"

    # ------------------------------------------------------------------ keeping current

    def next_scheduled_reindex(self) -> datetime.datetime | None:
        """When the scheduled reindex runs next (UTC), if it is on."""
        loop = self._periodic
        return loop.next_iteration if loop is not None and loop.is_running() else None

    def _start_background(self) -> None:
        if self.settings.watch:
            debounce = self.settings.watch_debounce_seconds
            self._watcher = CorpusWatcher(self.handlers.service.config.corpus_dir, debounce)
            self._watch = tasks.loop(seconds=min(2.0, debounce / 2))(self._poll_corpus)
            self._watch.start()
        minutes = self.settings.reindex_every_minutes
        if minutes:
            self._periodic = tasks.loop(minutes=minutes)(self._scheduled_reindex)
            self._periodic.start()

    async def _scheduled_reindex(self) -> None:
        # The first run, at startup, picks up files changed while the bot was down.
        try:
            await self.background_reindex("scheduled reindex")
        except UserFacingError as exc:  # an exception would stop the loop for good
            log.info("scheduled reindex skipped: %s", exc.message)

    async def background_reindex(self, who: str) -> ReindexReport | None:
        """A reindex nobody is waiting for; a change is reported to the mod-log.

        Raises ``UserFacingError`` when another reindex is running, so the caller can retry.
        """
        with self.reindex_gate.hold(who):
            try:
                report = await self.handlers.reindex(who=who)
            except UserFacingError:
                raise
            except Exception:
                log.exception("%s failed", who)
                await self.modlog(f"{who} failed; the error is in the bot's log.")
                return None
        # Unchanged problems (a file still skipped, a reindex still refused) are posted once, not
        # at every scheduled run.
        problems = (tuple((x.path, x.reason) for x in report.skipped), report.refused)
        news = report.changed or problems != self._last_problems
        self._last_problems = problems
        if news and (report.changed or report.skipped or report.refused):
            await self.modlog(embed=embeds.report_embed(report, who))
        return report

    async def _poll_corpus(self) -> None:
        if self._watcher is None:
            return
        try:
            if not await self._watcher.settled_change():
                return
        except OSError:  # an exception would stop the loop for good
            log.warning("cannot read the corpus folder", exc_info=True)
            return
        try:
            await self.background_reindex("corpus watcher")
            self._watcher.handled()
        except UserFacingError:
            self._watcher.retry_later()  # another reindex is running


class CorpusWatcher:
    """Notices changed briefing files by polling, and says when a change has settled.

    Polling (size and mtime of each file, in a thread) needs no extra dependency and works
    on network drives, where file-system events often do not arrive.
    """

    def __init__(self, corpus_dir: Path, debounce: float) -> None:
        self.corpus_dir = corpus_dir
        self.debounce = debounce
        self._snapshot: dict[str, tuple[int, int]] | None = None
        self._changed_at: float | None = None

    async def settled_change(self) -> bool:
        """True when files changed and then stayed unchanged for ``debounce`` seconds."""
        now = await asyncio.to_thread(corpus_snapshot, self.corpus_dir)
        t = time.monotonic()
        if self._snapshot is None:
            self._snapshot = now
            return False
        if now != self._snapshot:
            self._snapshot, self._changed_at = now, t
            return False
        return self._changed_at is not None and t - self._changed_at >= self.debounce

    def handled(self) -> None:
        self._changed_at = None

    def retry_later(self) -> None:
        self._changed_at = time.monotonic()


def corpus_snapshot(corpus_dir: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every briefing file, to notice changes by polling."""
    out: dict[str, tuple[int, int]] = {}
    if not corpus_dir.is_dir():
        return out
    for path, rel in iter_corpus(corpus_dir):
        try:
            st = path.stat()
        except OSError:
            continue
        out[rel] = (st.st_size, st.st_mtime_ns)
    return out


# ---------------------------------------------------------------------------- entry points


def _read_sync_state(path: Path) -> set[int]:
    """The servers the commands were registered in last time (an older file named one, or none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(data, dict):
        return set()
    ids = data.get("guild_ids", [data.get("guild_id")])
    return (
        {int(i) for i in ids if isinstance(i, int) and not isinstance(i, bool)}
        if isinstance(ids, list)
        else set()
    )


def _discord_now() -> float:
    return discord.utils.utcnow().timestamp()


def required_permissions(settings: Settings) -> discord.Permissions:
    """Exactly what the bot needs in a channel: post reports and replies (with embeds and the
    CSV files), and, when the features are on, reply to messages and open answer threads."""
    perms = discord.Permissions(view_channel=True, send_messages=True, embed_links=True, attach_files=True)
    if settings.mention_replies or settings.thread_channels or settings.briefing_channel_ids:
        # replying to a message, reading a thread's first one, catching up on briefing channels
        perms.read_message_history = True
    if settings.thread_channels:
        perms.create_public_threads = True
        perms.send_messages_in_threads = True
    return perms


def invite_url(application_id: int, settings: Settings) -> str:
    """The OAuth2 link that adds the bot with its commands and ``required_permissions``."""
    only = next(iter(settings.guild_ids)) if len(settings.guild_ids) == 1 else None
    return discord.utils.oauth_url(
        application_id,
        permissions=required_permissions(settings),
        guild=discord.Object(id=only) if only is not None else discord.utils.MISSING,
        scopes=("bot", "applications.commands"),
        disable_guild_select=only is not None,
    )


def run_bot(settings: Settings) -> int:
    """``briefbot run``: load the model, make sure there is an index, connect; an exit code."""
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        print(f"briefbot: DISCORD_TOKEN is not set. {README_HINT}", file=sys.stderr)
        return 2
    if not settings.guild_ids:
        print(
            "briefbot: DISCORD_GUILD_IDS is not set: list the server ids this bot serves "
            f"(comma-separated); it answers nothing elsewhere. {README_HINT}",
            file=sys.stderr,
        )
        return 2
    if settings.discord_guild_id is not None:
        log.warning("DISCORD_GUILD_ID is deprecated: use DISCORD_GUILD_IDS (a comma-separated list)")
    from bot.app import build_handlers
    from index.embedder import ModelNotFoundError

    try:
        handlers = build_handlers(settings)
    except ModelNotFoundError as exc:
        raise UserFacingError(f"the embedding model is not available: {exc}") from exc
    return asyncio.run(_run(BriefBot(settings, handlers), token))


async def _run(bot: BriefBot, token: str) -> int:
    print("briefbot: loading the model and checking the index…", file=sys.stderr)
    report = await bot.prepare()
    if report is not None:
        print("briefbot: " + "\n  ".join(render.report_lines(report)), file=sys.stderr)
    print("briefbot: connecting to Discord…", file=sys.stderr)
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        print(f"briefbot: Discord refused the token (DISCORD_TOKEN). {README_HINT}", file=sys.stderr)
        return 2
    except (aiohttp.ClientError, OSError) as exc:
        print(f"briefbot: cannot reach Discord ({exc}). Check the network and try again.", file=sys.stderr)
        return 1
    except discord.PrivilegedIntentsRequired:
        print(
            "briefbot: BRIEFBOT_MENTION_REPLIES, BRIEFBOT_THREAD_CHANNELS and BRIEFBOT_BRIEFING_CHANNEL_IDS "
            "need the Message Content intent: enable it for the bot in the Discord developer portal "
            "(Bot → Privileged Gateway Intents), or turn those settings off.",
            file=sys.stderr,
        )
        return 2
    return 0


def cogs(bot: BriefBot) -> list[commands.Cog]:
    """Every cog of the bot, in the order their commands are listed."""
    from bot.cogs.ask import AskCog
    from bot.cogs.browse import BrowseCog
    from bot.cogs.feedback import FeedbackCog
    from bot.cogs.help import HelpCog
    from bot.cogs.intake import IntakeCog
    from bot.cogs.moderation import ModerationCog

    return [AskCog(bot), BrowseCog(bot), HelpCog(bot), ModerationCog(bot), IntakeCog(bot), FeedbackCog(bot)]


class _NoModel:
    """Stands in for the embedder where only the command definitions are needed."""

    name = "none"
    dim = 0
    max_tokens = 0

    def count_tokens(self, text: str) -> int:
        raise RuntimeError("no model loaded")

    def encode(self, texts: Any, *, batch_size: int = 32, progress: Any = None) -> Any:
        raise RuntimeError("no model loaded")

    def encode_query(self, text: str) -> Any:
        raise RuntimeError("no model loaded")


def command_payloads(settings: Settings) -> list[dict[str, Any]]:
    """The application commands as Discord receives them at sync, built offline (no model, no network)."""
    handlers = Handlers(BriefingService(settings.service_config(), _NoModel()))
    bot = BriefBot(settings, handlers)

    async def build() -> list[dict[str, Any]]:
        for cog in cogs(bot):
            await bot.add_cog(cog)
        return [cmd.to_dict(bot.tree) for cmd in bot.tree.get_commands()]

    return asyncio.run(build())

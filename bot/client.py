"""The Discord bot: a ``commands.Bot`` around the shared ``Handlers``, and ``briefbot run``.

Dependencies come in through the constructor (settings, the tenants); nothing is global. Slow
work (the model, index builds, file and SQLite I/O) always runs in worker threads, so every
interaction is acknowledged at once.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import sys
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands, tasks
from filelock import FileLock

from bot import embeds, render
from bot.answer_buttons import DYNAMIC_ITEMS as ANSWER_ITEMS
from bot.checks import NO_MENTIONS, interaction_in_scope, modlog_exposure, refuse_out_of_scope, report_error
from bot.errors import UserFacingError
from bot.feedback_store import FeedbackStore
from bot.handlers import Handlers
from bot.ratelimit import RateLimiter
from bot.reader import DYNAMIC_ITEMS as READER_ITEMS
from bot.settings import Settings
from bot.sharding import ShardPlan
from bot.tenants import ReindexGate, Tenant, Tenants
from bot.views import DYNAMIC_ITEMS, AnswerStore
from bot.watcher import CorpusWatcher
from index.manifest import write_json_atomic
from index.models import ReindexReport
from index.service import BriefingService

log = logging.getLogger(__name__)

# The bot never joins voice: no warnings about voice libraries on every start.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

SYNC_STATE = "commands_synced.json"  # the servers the commands were synced to last: {"guild_ids": [...]}
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


class BriefBot(commands.Bot):
    """Answers questions over the briefings; moderators manage the corpus and the index.

    ``tenants`` says which corpus answers in which server (one shared by all, or one each);
    plain ``Handlers`` are the shared corpus."""

    def __init__(self, settings: Settings, tenants: Tenants | Handlers, **options: Any) -> None:
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
            **options,
        )
        self.settings = settings
        self.tenants = tenants if isinstance(tenants, Tenants) else Tenants.around(settings, tenants)
        self.ask_limiter = RateLimiter(settings.ask_rate_limit, settings.ask_rate_window)
        self.button_limiter = RateLimiter(settings.button_rate_limit, settings.button_rate_window)
        self.synced: dict[int, int] = {}  # server id -> commands registered there
        self.synced_global = 0  # commands registered globally (the DM /ask, with allow_dms)
        self._modlog_guilds: dict[int, int] = {}  # mod-log channel id -> its server
        self._announced = False
        self._watch: tasks.Loop[Any] | None = None
        self._periodic: tasks.Loop[Any] | None = None

    @property
    def plan(self) -> ShardPlan:
        """The shards (so the servers) this process serves."""
        return ShardPlan.of(self.settings)

    def tenant(self, guild_id: int | None) -> Tenant:
        """The corpus that answers in ``guild_id`` (see ``Tenants.get``)."""
        return self.tenants.get(guild_id)

    # The shared corpus's parts, for code that predates per-server corpora; with a corpus per
    # server there is no such thing, and asking for it is a bug.
    def _shared(self) -> Tenant:
        if self.tenants.per_server:
            raise RuntimeError("each server has its own corpus here: use bot.tenant(guild_id)")
        return self.tenants.get(None)

    @property
    def handlers(self) -> Handlers:
        return self._shared().handlers

    @property
    def answers(self) -> AnswerStore:
        return self._shared().answers

    @property
    def feedback(self) -> FeedbackStore:
        return self._shared().feedback

    @property
    def reindex_gate(self) -> ReindexGate:
        return self._shared().gate

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
        for tenant in self.tenants.here():
            trash = tenant.handlers.trash
            try:
                await asyncio.to_thread(tenant.feedback.purge)
                if trash is not None:
                    await asyncio.to_thread(trash.purge)
            except Exception:
                log.warning(
                    "could not delete expired questions or removed briefings of %s",
                    tenant.name,
                    exc_info=True,
                )

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
        shards = f" on {self.plan.describe()}" if self.plan.sharded else ""
        print(
            f"briefbot: ready in {n} guild{'s' if n != 1 else ''}{shards} as {self.user} (id {self.user.id}).",
            file=sys.stderr,
        )
        if self.application_id is not None:
            print(f"briefbot: invite link: {invite_url(self.application_id, self.settings)}", file=sys.stderr)

    # ------------------------------------------------------------------ server scope

    async def sync_commands(self) -> None:
        """Register the commands with Discord: in each allowed server on this process's shards
        (instant), and globally only the DM ``/ask`` when ``allow_dms`` is on. Registering the
        global set also clears what an older version registered globally, so no other server
        ever sees a command. With several processes, the global set is the one holding shard
        0's to write, and each server's is its own process's: no two processes write the same."""
        assert self.application_id is not None  # set at login, before setup_hook
        plan = self.plan
        if plan.owns_direct_messages:
            registered = await self.http.bulk_upsert_global_commands(
                self.application_id, self.global_payloads()
            )
            self.synced_global = len(registered)
        for guild_id in plan.servers(self.settings.guild_ids):
            await self.sync_guild(guild_id)
        await self._clear_previous_scope()

    def global_payloads(self) -> list[dict[str, Any]]:
        """What is registered globally: nothing, or ``/ask`` for direct messages (public briefings).
        With a corpus per server, direct messages have no corpus: nothing."""
        ask = self.tree.get_command("ask")
        if not self.settings.allow_dms or self.settings.corpus_per_server or ask is None:
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
        commands until removed: remove them (the global set is rewritten at every start). Each
        process clears only servers on its own shards; the record is shared, and updated under
        a file lock so processes starting together keep each other's part."""
        path = self.settings.data_dir / SYNC_STATE
        plan = self.plan
        current = set(self.settings.guild_ids)
        previous = await asyncio.to_thread(_read_sync_state, path)
        assert self.application_id is not None
        for old in sorted(g for g in previous - current if plan.owns(g)):
            try:
                await self.http.bulk_upsert_guild_commands(self.application_id, old, [])
                log.info("removed the commands registered before in server %s", old)
            except discord.HTTPException:
                log.info("could not remove the commands registered before in server %s", old, exc_info=True)
        try:
            await asyncio.to_thread(_record_sync_state, path, plan, current)
        except OSError:
            log.warning("could not record where the commands are registered", exc_info=True)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.enforce_scope(guild)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self.enforce_scope(guild)

    async def enforce_scope(self, guild: discord.Guild) -> None:
        """Stay in an allowed server (registering its commands if not done yet); leave any other."""
        if guild.id in self.settings.guild_ids:
            if guild.id not in self.synced and self.plan.owns(guild.id):
                await self.sync_guild(guild.id)
            return
        log.warning("leaving server %r (%s): it is not in DISCORD_GUILD_IDS", guild.name, guild.id)
        try:
            await guild.leave()
        except discord.HTTPException:
            log.error("could not leave server %s; it is still ignored", guild.id, exc_info=True)

    async def prepare(self) -> list[tuple[Tenant, ReindexReport]]:
        """Load the model, and build the index of each corpus this process looks after if there
        is none (or an older version built it), in threads, before connecting."""
        await asyncio.to_thread(self.tenants.embedder.encode_query, "warm up")
        reports: list[tuple[Tenant, ReindexReport]] = []
        for tenant in self.tenants.here():
            report = await asyncio.to_thread(_ensure_index, tenant)
            if report is not None:
                reports.append((tenant, report))
        return reports

    async def close(self) -> None:
        for loop in (self._watch, self._periodic):
            if loop is not None:
                loop.cancel()
        await super().close()

    # ------------------------------------------------------------------ mod-log

    async def modlog_channels(self, tenant: Tenant) -> list[Any]:
        """The mod-log channels that receive ``tenant``'s reports: every configured one for the
        shared corpus; with a corpus per server, only those in that server (a channel that
        cannot be found is then left out: its server is unknown)."""
        found: list[Any] = []
        for channel_id in self.settings.modlog_channels:
            if (
                tenant.guild_id is not None
                and self._modlog_guilds.get(channel_id, tenant.guild_id) != tenant.guild_id
            ):
                continue  # known to be another server's
            try:
                channel: Any = self.get_channel(channel_id) or await self.fetch_channel(channel_id)
            except discord.HTTPException:
                if tenant.guild_id is None:
                    raise
                log.warning("mod-log channel %s cannot be found", channel_id)
                continue
            guild = getattr(channel, "guild", None)
            if guild is not None:
                self._modlog_guilds[channel_id] = guild.id
            if tenant.guild_id is None or (guild is not None and guild.id == tenant.guild_id):
                found.append(channel)
        return found

    async def modlog(
        self,
        tenant: Tenant,
        content: str | None = None,
        *,
        embed: discord.Embed | None = None,
        file: discord.File | None = None,
    ) -> None:
        """Post to the moderators' log channel of ``tenant``'s corpus, if one is configured;
        failures are logged and kept for ``/status`` (``Tenant.modlog_problem``).

        Reports name briefings, restricted ones too, so the details go only to a channel in a
        served server that no one but moderators can read; otherwise one neutral line does."""
        try:
            channels = await self.modlog_channels(tenant)
        except discord.HTTPException as exc:
            log.warning("could not find the mod-log channel of %s", tenant.name, exc_info=True)
            tenant.modlog_problem = (
                f"the last post failed ({exc.status} {exc.text or exc.__class__.__name__})"
            )
            return
        for channel in channels:
            await self._post_modlog(tenant, channel, content, embed, file)

    async def _post_modlog(
        self,
        tenant: Tenant,
        channel: Any,
        content: str | None,
        embed: discord.Embed | None,
        file: discord.File | None,
    ) -> None:
        channel_id = channel.id
        try:
            if not isinstance(channel, discord.abc.Messageable):
                log.warning("mod-log channel %s cannot receive messages", channel_id)
                tenant.modlog_problem = "it is not a channel messages can be sent to"
                return
            exposure = modlog_exposure(channel, self.settings)
            if exposure is not None:
                log.warning("mod-log channel %s: %s; its details are not posted there", channel_id, exposure)
                tenant.modlog_problem = f"{exposure}, so reports are not posted there"
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
            tenant.modlog_problem = None
        except discord.HTTPException as exc:
            log.warning("could not post to the mod-log channel %s", channel_id, exc_info=True)
            tenant.modlog_problem = (
                f"the last post failed ({exc.status} {exc.text or exc.__class__.__name__})"
            )

    # ------------------------------------------------------------------ keeping current

    def next_scheduled_reindex(self) -> datetime.datetime | None:
        """When the scheduled reindex runs next (UTC), if it is on."""
        loop = self._periodic
        return loop.next_iteration if loop is not None and loop.is_running() else None

    def _start_background(self) -> None:
        # One loop each for every corpus this process looks after (``Tenants.here``).
        if self.settings.watch:
            debounce = self.settings.watch_debounce_seconds
            self._watch = tasks.loop(seconds=min(2.0, debounce / 2))(self._poll_corpora)
            self._watch.start()
        minutes = self.settings.reindex_every_minutes
        if minutes:
            self._periodic = tasks.loop(minutes=minutes)(self._scheduled_reindex)
            self._periodic.start()

    async def _scheduled_reindex(self) -> None:
        # The first run, at startup, picks up files changed while the bot was down.
        for tenant in self.tenants.here():
            try:
                await self.background_reindex(tenant, "scheduled reindex")
            except UserFacingError as exc:  # an exception would stop the loop for good
                log.info("scheduled reindex of %s skipped: %s", tenant.name, exc.message)

    async def background_reindex(self, tenant: Tenant, who: str) -> ReindexReport | None:
        """A reindex of ``tenant``'s corpus nobody is waiting for; a change is reported to its mod-log.

        Raises ``UserFacingError`` when another reindex is running, so the caller can retry.
        """
        with tenant.gate.hold(who):
            try:
                report = await tenant.handlers.reindex(who=who)
            except UserFacingError:
                raise
            except Exception:
                log.exception("%s of %s failed", who, tenant.name)
                await self.modlog(tenant, f"{who} failed; the error is in the bot's log.")
                return None
        # Unchanged problems (a file still skipped, a reindex still refused) are posted once, not
        # at every scheduled run.
        problems = (tuple((x.path, x.reason) for x in report.skipped), report.refused)
        news = report.changed or problems != tenant.last_problems
        tenant.last_problems = problems
        if news and (report.changed or report.skipped or report.refused):
            await self.modlog(tenant, embed=embeds.report_embed(report, who))
        return report

    async def _poll_corpora(self) -> None:
        for tenant in self.tenants.here():
            await self._poll_corpus(tenant)

    async def _poll_corpus(self, tenant: Tenant) -> None:
        if tenant.watcher is None:
            tenant.watcher = CorpusWatcher(
                tenant.service.config.corpus_dir, self.settings.watch_debounce_seconds
            )
        watcher = tenant.watcher
        try:
            if not await watcher.settled_change():
                return
        except OSError:  # an exception would stop the loop for good
            log.warning("cannot read the corpus folder of %s", tenant.name, exc_info=True)
            return
        try:
            await self.background_reindex(tenant, "corpus watcher")
            watcher.handled()
        except UserFacingError:
            watcher.retry_later()  # another reindex is running


class ShardedBriefBot(BriefBot, commands.AutoShardedBot):
    """The bot as one of several processes: Discord's sharding (``BRIEFBOT_SHARD_COUNT``)."""


def make_bot(settings: Settings, tenants: Tenants | Handlers) -> BriefBot:
    """The bot for these settings: sharded when ``BRIEFBOT_SHARD_COUNT`` is set."""
    plan = ShardPlan.of(settings)
    if plan.count is None:
        return BriefBot(settings, tenants)
    return ShardedBriefBot(settings, tenants, shard_count=plan.count, shard_ids=list(plan.ids))


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


def _record_sync_state(path: Path, plan: ShardPlan, current: set[int]) -> None:
    """Record that the commands are now in ``current``'s servers on this process's shards,
    keeping what other processes recorded for theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=10):
        previous = _read_sync_state(path)
        kept = {g for g in previous if not plan.owns(g)} | {g for g in current if plan.owns(g)}
        write_json_atomic(path, {"guild_ids": sorted(kept)})


def _ensure_index(tenant: Tenant) -> ReindexReport | None:
    """Make sure ``tenant``'s corpus has an index (a new server's folder is made empty)."""
    if tenant.guild_id is not None:
        tenant.service.config.corpus_dir.mkdir(parents=True, exist_ok=True)
    return tenant.service.ensure_index()


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
    if settings.allow_dms and settings.corpus_per_server:
        log.warning(
            "BRIEFBOT_ALLOW_DMS has no effect with BRIEFBOT_CORPUS_PER_SERVER: direct messages have "
            "no corpus, so /ask there is refused"
        )
    from bot.app import build_tenants, open_index_database
    from index.embedder import ModelNotFoundError

    open_index_database(settings)
    try:
        tenants = build_tenants(settings)
    except ModelNotFoundError as exc:
        raise UserFacingError(f"the embedding model is not available: {exc}") from exc
    return asyncio.run(_run(make_bot(settings, tenants), token))


async def _run(bot: BriefBot, token: str) -> int:
    print("briefbot: loading the model and checking the index…", file=sys.stderr)
    for tenant, report in await bot.prepare():
        whose = f"server {tenant.guild_id}: " if tenant.guild_id is not None else ""
        print(f"briefbot: {whose}" + "\n  ".join(render.report_lines(report)), file=sys.stderr)
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
    shared = settings.model_copy(update={"corpus_per_server": False})  # only the commands are needed
    handlers = Handlers(BriefingService(shared.service_config(), _NoModel()))
    bot = BriefBot(settings, handlers)

    async def build() -> list[dict[str, Any]]:
        for cog in cogs(bot):
            await bot.add_cog(cog)
        return [cmd.to_dict(bot.tree) for cmd in bot.tree.get_commands()]

    return asyncio.run(build())

"""Which corpus answers in which server.

By default every server of ``DISCORD_GUILD_IDS`` shares one corpus. With
``BRIEFBOT_CORPUS_PER_SERVER`` each server has its own (``Settings.paths``): its own corpus and
index folders, answer records, feedback, trash, reindex turn and mod-log. ``Tenants`` makes
each server's ``Tenant`` on first use, all of them over one embedder loaded once. Every
command, button, listener and background job asks it for the tenant of the server it acts in,
so nothing of one server's corpus is ever looked up from another. Direct messages have no
corpus then: asking there is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import discord

from bot.answer_store import AnswerStore
from bot.errors import UserFacingError
from bot.feedback_store import FeedbackStore
from bot.handlers import Handlers
from bot.settings import Settings
from bot.sharding import ShardPlan
from bot.trash import Trash
from bot.watcher import CorpusWatcher
from index.confidence import Calibration, load_calibration
from index.embedder import Embedder
from index.service import BriefingService

FEEDBACK_FILE = "feedback.sqlite3"
NO_CORPUS_IN_DMS = (
    "Each server has its own briefings here, so there are none to ask about in a direct message: "
    "ask in your server."
)

Problems = tuple[tuple[tuple[str, str], ...], str | None]


def discord_now() -> float:
    """Discord's clock (a test's virtual one too): questions, votes and weekly reports agree."""
    return discord.utils.utcnow().timestamp()


class NotServed(Exception):
    """A server outside ``DISCORD_GUILD_IDS``: it has no corpus (callers check scope first)."""


class ReindexGate:
    """One reindex at a time per corpus from this bot, claimed before the first ``await`` so two
    clicks cannot both pass; the service's file lock covers other processes (the console, the CLI)."""

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


@dataclass(eq=False)
class Tenant:
    """One corpus and what is kept beside it; ``guild_id`` None is the corpus shared by all servers."""

    guild_id: int | None
    handlers: Handlers
    answers: AnswerStore
    feedback: FeedbackStore
    gate: ReindexGate = field(default_factory=ReindexGate)
    # What the last background reindex reported as wrong: unchanged problems are posted once.
    last_problems: Problems = ((), None)
    modlog_problem: str | None = None  # why the last mod-log post failed (or was withheld)
    watcher: CorpusWatcher | None = None

    @property
    def service(self) -> BriefingService:
        return self.handlers.service

    @property
    def name(self) -> str:
        """How logs name this corpus."""
        return "the shared corpus" if self.guild_id is None else f"server {self.guild_id}'s corpus"


class Tenants:
    """The tenants of this bot: made on first use, kept for the life of the process."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        *,
        calibration: Calibration | None = None,
        today: Callable[[], date] = date.today,
        shared: Handlers | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder  # one model for every corpus, loaded once
        # Read once here, never when a server's tenant is made on the event loop.
        self._calibration = calibration or load_calibration()
        self._today = today
        self._clock = clock or discord_now
        self._tenants: dict[int | None, Tenant] = {}
        if shared is not None and not settings.corpus_per_server:
            self._tenants[None] = self._tenant(None, shared)

    @classmethod
    def around(
        cls, settings: Settings, handlers: Handlers, *, clock: Callable[[], float] | None = None
    ) -> Tenants:
        """``handlers`` as the shared corpus (per-server tenants, when on, share its model)."""
        base = handlers.service
        return cls(
            settings,
            base.embedder,
            calibration=base.calibration,
            today=base._today,
            shared=handlers,
            clock=clock,
        )

    @property
    def per_server(self) -> bool:
        return self.settings.corpus_per_server

    @property
    def plan(self) -> ShardPlan:
        return ShardPlan.of(self.settings)

    def get(self, guild_id: int | None) -> Tenant:
        """The tenant answering in ``guild_id`` (None: a direct message).

        Raises ``UserFacingError`` for a direct message when each server has its own corpus,
        and ``NotServed`` for a server outside ``DISCORD_GUILD_IDS``."""
        key: int | None = None
        if self.per_server:
            if guild_id is None:
                raise UserFacingError(NO_CORPUS_IN_DMS)
            if guild_id not in self.settings.guild_ids:
                raise NotServed(guild_id)
            key = guild_id
        tenant = self._tenants.get(key)
        if tenant is None:
            tenant = self._tenants[key] = self._create(key)
        return tenant

    def here(self) -> list[Tenant]:
        """The corpora whose background jobs (watch, schedule, weekly report, start-up checks)
        run in this process: each server on its shards, or the shared corpus on shard 0's."""
        plan = self.plan
        if not self.per_server:
            return [self.get(None)] if plan.owns_direct_messages else []
        return [self.get(g) for g in plan.servers(self.settings.guild_ids)]

    def loaded(self) -> list[Tenant]:
        """Every tenant made so far."""
        return list(self._tenants.values())

    def _create(self, guild_id: int | None) -> Tenant:
        # Nothing here touches the disk: the folders are made when first written.
        config = self.settings.service_config(guild_id)
        service = BriefingService(config, self.embedder, self._calibration, today=self._today)
        paths = self.settings.paths(guild_id)
        return self._tenant(guild_id, Handlers(service, Trash(paths.trash_dir, self.settings.trash_days)))

    def _tenant(self, guild_id: int | None, handlers: Handlers) -> Tenant:
        paths = self.settings.paths(guild_id)
        keep = self.settings.keep_questions_days
        return Tenant(
            guild_id,
            handlers,
            _answer_store(handlers.service, keep),
            FeedbackStore(paths.data_dir / FEEDBACK_FILE, keep, clock=self._clock),
        )


def _answer_store(service: BriefingService, keep: int) -> AnswerStore:
    """Answer records beside the corpus's index: a file, or (with a database) the database, where
    every bot process finds them and serves the buttons."""
    path = service.answers_file
    if path is not None:
        return AnswerStore(path, keep)
    return AnswerStore(keep_days=keep, records=lambda: service.answer_records(keep))

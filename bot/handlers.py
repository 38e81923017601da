"""The command handlers every front end runs: /ask, /status, /reindex, /briefings.

The console and the Discord cogs call these same coroutines. They validate input (bad input
becomes a ``UserFacingError`` with a helpful message) and run CPU work (model, index build)
in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from bot.errors import UserFacingError
from index.build import Progress
from index.embedder import ModelNotFoundError
from index.manifest import ManifestError
from index.models import Answer, BriefingMeta, Passage, ReindexReport
from index.search import LOCAL_USER, Viewer
from index.service import BriefingService, NoIndexError, Status
from index.versions import ReindexBusyError

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500

T = TypeVar("T")


def parse_date_option(value: str | None, name: str = "since") -> date | None:
    """``YYYY-MM-DD`` (or ``YYYY-MM``) from a command option, or a helpful error."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 7:
            return date.fromisoformat(text + "-01")
        return date.fromisoformat(text)
    except ValueError:
        raise UserFacingError(
            f"`{name}` must be a date like 2024-10-31 (or 2024-10), not “{text[:40]}”."
        ) from None


class Handlers:
    """Front-end-neutral commands over one ``BriefingService``."""

    def __init__(self, service: BriefingService) -> None:
        self.service = service

    async def ask(
        self,
        question: str,
        *,
        viewer: Viewer = LOCAL_USER,
        briefing_id: str | None = None,
        since: str | date | None = None,
        k: int | None = None,
    ) -> Answer:
        text = " ".join((question or "").split())
        if not text:
            raise UserFacingError(
                "Ask a question, for example: `/ask question: What did Iran supply to Russia?`"
            )
        if len(text) > MAX_QUESTION_CHARS:
            raise UserFacingError(
                f"That question is {len(text)} characters; please keep it under {MAX_QUESTION_CHARS}."
            )
        since_date = since if isinstance(since, date) else parse_date_option(since)
        if briefing_id is not None:
            metas = await self.briefings(viewer=viewer)
            if briefing_id not in {m.briefing_id for m in metas}:
                raise UserFacingError(
                    f"No briefing called “{briefing_id[:80]}”. Pick one from the list as you type."
                )
        return await self._run(
            self.service.ask, text, viewer=viewer, briefing_id=briefing_id, since=since_date, k=k
        )

    async def status(self) -> Status:
        return await asyncio.to_thread(self.service.status)

    async def briefings(self, *, viewer: Viewer = LOCAL_USER) -> list[BriefingMeta]:
        metas = await self._run(self.service.briefings)
        return [m for m in metas if viewer.may_see(m.audience)]

    async def reindex(
        self,
        *,
        progress: Progress | None = None,
        who: str = "",
        full: bool = False,
        rollback: bool = False,
    ) -> ReindexReport:
        """Rebuild or update the index (or roll back); one at a time across processes."""
        if self.service.reindex_running():
            holder = self.service.layout.lock_holder()
            raise UserFacingError(
                str(ReindexBusyError(holder)).capitalize() + ". Try again when it has finished."
            )
        try:
            if rollback:
                return await asyncio.to_thread(self.service.rollback, who)
            return await asyncio.to_thread(self.service.reindex, full=full, progress=progress, who=who)
        except ReindexBusyError as exc:
            raise UserFacingError(str(exc).capitalize() + ". Try again when it has finished.") from exc
        except ManifestError as exc:
            raise UserFacingError(f"Cannot roll back: {exc}.") from exc

    async def context(
        self, passage_id: str, *, viewer: Viewer = LOCAL_USER, around: int = 1
    ) -> list[Passage]:
        """The quoted passage with the paragraphs before and after it, if it is still current."""
        found = await self._run(self.service.passage, passage_id)
        if found is None:
            raise UserFacingError(
                "That passage has changed or been removed since this answer was given; ask again for a current one."
            )
        _, meta = found
        if not viewer.may_see(meta.audience):
            raise UserFacingError("That briefing is not available to you here.")
        return await self._run(self.service.context, passage_id, around, around)

    async def more(
        self,
        question: str,
        *,
        shown: int,
        viewer: Viewer = LOCAL_USER,
        briefing_id: str | None = None,
        since: str | date | None = None,
    ) -> Answer:
        """The next passages for a question after the ``shown`` ones."""
        k = self.service.config.search.k
        answer = await self.ask(question, viewer=viewer, briefing_id=briefing_id, since=since, k=shown + k)
        answer.quotes = answer.quotes[shown:]
        return answer

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except NoIndexError as exc:
            raise UserFacingError(
                "The briefings are not indexed yet. A moderator can build the index with `/reindex`."
            ) from exc
        except ModelNotFoundError as exc:
            raise UserFacingError(f"The embedding model is not available: {exc}") from exc

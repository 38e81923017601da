"""The command handlers every front end runs: /ask, /status, /reindex, /briefings.

The console and the Discord cogs call these same coroutines. They validate input (bad input
becomes a ``UserFacingError`` with a helpful message) and run CPU work (model, index build)
in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import sqlite3
from collections.abc import Callable, Collection
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from bot.errors import UserFacingError
from bot.trash import Trash, TrashEntry
from index.build import Progress
from index.embedder import ModelNotFoundError
from index.formats.sandbox import ExtractionSandbox
from index.manifest import ManifestError, fsync_dir
from index.models import Answer, BriefingMeta, Passage, ReindexReport
from index.parsing import SUPPORTED_SUFFIXES, BriefingError, ParsedDocument, is_briefing_file
from index.search import LOCAL_USER, Viewer
from index.service import BriefingService, IndexUnavailableError, NoIndexError, Status
from index.versions import ReindexBusyError
from index.whatsnew import Digest

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500
INDEX_UNAVAILABLE = (
    "The index is unavailable right now (its database cannot be reached). Try again in a few "
    "minutes; if it lasts, tell a moderator."
)
UPLOAD_SUFFIXES = SUPPORTED_SUFFIXES
UPLOAD_KINDS = ".md, .txt, .pdf, .docx, .html and .eml"
# Attachment types that are never briefings, refused before downloading anything.
_NOT_BRIEFINGS = ("image/", "audio/", "video/", "font/")
MAX_FILENAME_CHARS = 120
# Letters, digits, dot, dash and underscore; it must start with a letter or digit.
_SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

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

    def __init__(self, service: BriefingService, trash: Trash | None = None) -> None:
        self.service = service
        self.trash = trash  # removed briefings go here when set, else they are deleted

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
        """The briefings ``viewer`` may see (filtered in a thread: there may be very many)."""
        return await self._run(lambda: [m for m in self.service.briefings() if viewer.may_see(m.audience)])

    async def metas(self, briefing_ids: Collection[str]) -> dict[str, BriefingMeta]:
        """What is known of these briefings in the live index (those it holds), without a
        viewer filter: for checks, never shown as is."""

        def lookup() -> dict[str, BriefingMeta]:
            found = {bid: self.service.meta(bid) for bid in briefing_ids}
            return {bid: m for bid, m in found.items() if m is not None}

        return await self._run(lookup)

    async def find_briefings(self, typed: str, *, viewer: Viewer = LOCAL_USER) -> list[BriefingMeta]:
        """Briefings ``viewer`` may see whose id or title contains ``typed``, newest first."""
        return await self._run(lambda: find_briefings(self.service.briefings(), typed, viewer))

    async def briefing_passages(self, briefing_id: str, *, viewer: Viewer = LOCAL_USER) -> list[Passage]:
        """Every passage of one briefing the viewer may see, in order."""
        metas = await self.briefings(viewer=viewer)
        if briefing_id not in {m.briefing_id for m in metas}:
            raise UserFacingError("That briefing is not available to you here, or has been removed since.")
        return await self._run(self.service.briefing_passages, briefing_id)

    async def whats_new(self, question: str, *, viewer: Viewer = LOCAL_USER) -> Digest | None:
        """The newest briefings when ``question`` asks what is new without naming a topic."""
        text = " ".join((question or "").split())
        if not text or len(text) > MAX_QUESTION_CHARS:
            return None
        return await self._run(self.service.whats_new, text, viewer=viewer)

    async def reindex(
        self,
        *,
        progress: Progress | None = None,
        who: str = "",
        full: bool = False,
        rollback: bool = False,
        to: str | None = None,
        allow_shrink: bool = False,
        deliberate: Collection[str] = (),
        confirmed_loss: int | None = None,
    ) -> ReindexReport:
        """Rebuild or update the index (or roll back, to the version ``to`` or the previous one);
        one at a time across processes. A report with ``refused`` set published nothing (see
        ``index.build.reindex`` for ``allow_shrink``, ``deliberate`` and ``confirmed_loss``)."""
        self._refuse_if_reindexing()
        try:
            if rollback:
                return await asyncio.to_thread(self.service.rollback, who, to)
            return await asyncio.to_thread(
                self.service.reindex,
                full=full,
                progress=progress,
                who=who,
                allow_shrink=allow_shrink,
                deliberate=deliberate,
                confirmed_loss=confirmed_loss,
            )
        except ReindexBusyError as exc:
            raise UserFacingError(_sentence(str(exc)) + " Try again when it has finished.") from exc
        except IndexUnavailableError as exc:
            raise UserFacingError(INDEX_UNAVAILABLE + " Nothing was changed.") from exc
        except ManifestError as exc:
            raise UserFacingError(f"Cannot roll back: {exc}.") from exc
        except (OSError, sqlite3.Error) as exc:  # a full disk, a read-only index folder
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UserFacingError(
                f"Could not write the index in {self.service.config.index_dir} ({reason}). "
                "The live version is unchanged; free some space or fix the folder's permissions, then reindex."
            ) from exc

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

    async def add_briefing(
        self,
        filename: str,
        data: bytes,
        who: str = "",
        *,
        replace: bool = False,
        max_bytes: int | None = None,
        progress: Progress | None = None,
    ) -> ReindexReport:
        """Save an uploaded briefing into the corpus folder (atomically) and reindex.

        The name must be a plain, safe file name of a supported format and the bytes a
        briefing that parses (its content, not its name, decides: a .pdf that is HTML is
        refused); an existing file is only overwritten when ``replace`` is true.
        """
        limit = max_bytes if max_bytes is not None else self.service.config.build.max_bytes
        name = check_upload(filename, len(data), limit)
        await self.extract(name, data, limit)
        self._refuse_if_reindexing()
        saved = await asyncio.to_thread(self._save_briefing, name, data, replace)
        return await self._reindex_after_change(f"{saved} was saved", who, progress)

    async def extract(self, rel_path: str, data: bytes, max_bytes: int | None = None) -> list[ParsedDocument]:
        """The briefings in a file as the index will read them (in a worker thread; PDF, Word,
        HTML and e-mail in the extraction sandbox), or a ``UserFacingError`` saying why not."""
        limit = max_bytes if max_bytes is not None else self.service.config.build.max_bytes

        def parse() -> list[ParsedDocument]:
            with ExtractionSandbox(self.service.config.build.extract) as sandbox:
                return sandbox.parse(rel_path, data, limit)

        name = PurePosixPath(rel_path).name
        try:
            return await asyncio.to_thread(parse)
        except BriefingError as exc:
            raise UserFacingError(f"{name} was not added: {exc.reason}.") from exc
        except Exception as exc:  # a reader bug: still a clear refusal, and nothing saved
            log.exception("could not read the upload %s", name)
            raise UserFacingError(
                f"{name} was not added: it could not be read ({type(exc).__name__})."
            ) from exc

    async def put_corpus_file(self, rel_path: str, data: bytes) -> None:
        """Write (or replace) a file under the corpus folder, atomically, in a worker thread."""
        path = self._inside_corpus(rel_path)

        corpus = self.service.config.corpus_dir

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Never through a link: a subfolder swapped for one must not lead outside the corpus.
            if not path.parent.resolve().is_relative_to(corpus.resolve()) or path.is_symlink():
                raise UserFacingError(f"{rel_path} would be written outside the corpus folder; not saved.")
            _write_atomic(path, data)

        await asyncio.to_thread(write)

    async def delete_corpus_file(self, rel_path: str) -> bool:
        """Delete a file under the corpus folder; False when it was not there."""
        path = self._inside_corpus(rel_path)

        def delete() -> bool:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            fsync_dir(path.parent)
            return True

        return await asyncio.to_thread(delete)

    def _inside_corpus(self, rel_path: str) -> Path:
        parts = PurePosixPath(rel_path).parts
        if not parts or ".." in parts or PurePosixPath(rel_path).is_absolute():
            raise UserFacingError(f"{rel_path} is not a path inside the corpus folder.")
        return self.service.config.corpus_dir.joinpath(*parts)

    async def remove_briefing(
        self, briefing_id: str, who: str = "", *, progress: Progress | None = None
    ) -> ReindexReport:
        """Delete one briefing's file from the corpus folder and reindex."""
        metas = await self.briefings()
        meta = next((m for m in metas if m.briefing_id == briefing_id), None)
        if meta is None:
            raise UserFacingError(
                f"No briefing called “{briefing_id[:80]}”. Pick one from the list as you type."
            )
        self._refuse_if_reindexing()
        if self.trash is not None:
            await asyncio.to_thread(self._trash_briefing, meta)
            done = f"{meta.path} was moved to the trash"
        else:
            await asyncio.to_thread(self._delete_briefing, meta.path)
            done = f"{meta.path} was deleted"
        return await self._reindex_after_change(done, who, progress, deliberate=(briefing_id,))

    async def trashed(self) -> list[TrashEntry]:
        """Removed briefings that can still be restored, most recent first."""
        return await asyncio.to_thread(self.trash.entries) if self.trash is not None else []

    async def restore_briefing(
        self, entry_id: str, who: str = "", *, progress: Progress | None = None
    ) -> tuple[TrashEntry, ReindexReport]:
        """Put a removed briefing back into the corpus folder and reindex."""
        if self.trash is None:
            raise UserFacingError("Removed briefings are not kept here (no trash folder).")
        self._refuse_if_reindexing()
        entry = await asyncio.to_thread(self.trash.restore, entry_id, self.service.config.corpus_dir)
        return entry, await self._reindex_after_change(f"{entry.path} was restored", who, progress)

    async def _reindex_after_change(
        self, done: str, who: str, progress: Progress | None, deliberate: Collection[str] = ()
    ) -> ReindexReport:
        try:
            return await self.reindex(progress=progress, who=who, deliberate=deliberate)
        except UserFacingError as exc:
            # The file change happened; only indexing it has to wait.
            raise UserFacingError(f"{done}, but it is not indexed yet: {exc.message}") from exc

    def _save_briefing(self, name: str, data: bytes, replace: bool) -> str:
        """Write the upload into the corpus folder; returns the file name used. Replacing keeps
        the existing file's name when it differs only in case (one file, the same briefing id)."""
        corpus = self.service.config.corpus_dir
        corpus.mkdir(parents=True, exist_ok=True)
        stem = PurePosixPath(name).stem.lower()
        target = name
        for existing in corpus.iterdir():
            same_name = existing.name.lower() == name.lower()
            same_id = existing.suffix.lower() in SUPPORTED_SUFFIXES and existing.stem.lower() == stem
            if same_name and (existing.is_dir() or existing.is_symlink()):
                raise UserFacingError(
                    f"{existing.name} in the corpus folder is not a briefing file; not replaced."
                )
            if same_name and not replace:
                raise UserFacingError(
                    f"A briefing file called {existing.name} already exists. "
                    "Add it again with `replace: True` to replace it."
                )
            if same_name:
                target = existing.name
            elif same_id:
                raise UserFacingError(
                    f"{existing.name} already has that name (only the extension differs); "
                    "remove it first, or upload under another name."
                )
        _write_atomic(corpus / target, data)
        return target

    def _corpus_file(self, rel_path: str) -> Path:
        corpus = self.service.config.corpus_dir.resolve()
        target = corpus / rel_path
        # The path comes from the index; still, never touch a file outside the corpus folder.
        if ".." in PurePosixPath(rel_path).parts or not target.parent.resolve().is_relative_to(corpus):
            raise UserFacingError(f"{rel_path} is not inside the corpus folder; it was not removed.")
        return target

    def _trash_briefing(self, meta: BriefingMeta) -> None:
        assert self.trash is not None
        target = self._corpus_file(meta.path)
        if not target.exists():
            log.info("briefing file %s was already gone", target)
            return
        self.trash.put(self.service.config.corpus_dir.resolve(), meta.path, meta.briefing_id, meta.title)

    def _delete_briefing(self, rel_path: str) -> None:
        target = self._corpus_file(rel_path)
        try:
            target.unlink()
        except FileNotFoundError:
            log.info("briefing file %s was already gone", target)
            return
        fsync_dir(target.parent)

    def _refuse_if_reindexing(self) -> None:
        try:
            running = self.service.reindex_running()
        except IndexUnavailableError as exc:
            raise UserFacingError(INDEX_UNAVAILABLE) from exc
        if running:
            holder = self.service.lock_holder()
            raise UserFacingError(
                _sentence(str(ReindexBusyError(holder))) + " Try again when it has finished."
            )

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except IndexUnavailableError as exc:
            raise UserFacingError(INDEX_UNAVAILABLE) from exc
        except NoIndexError as exc:
            raise UserFacingError(
                "The briefings are not indexed yet. A moderator can add one with `/briefing add`, "
                "or build the index from the corpus folder with `/reindex`."
            ) from exc
        except ModelNotFoundError as exc:
            raise UserFacingError(f"The embedding model is not available: {exc}") from exc


def _sentence(text: str) -> str:
    """``text`` as a sentence: first letter upper-cased, nothing else changed (timestamps stay)."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def find_briefings(metas: list[BriefingMeta], typed: str, viewer: Viewer) -> list[BriefingMeta]:
    """The matching briefings ``viewer`` may see, newest first (undated ones first of all)."""
    want = typed.casefold().strip()
    found = [
        m
        for m in metas
        if viewer.may_see(m.audience)
        and (not want or want in m.briefing_id.casefold() or want in m.title.casefold())
    ]
    found.sort(key=lambda m: m.date_label, reverse=True)
    return found


def check_upload(filename: str, size: int, max_bytes: int, content_type: str | None = None) -> str:
    """The name an uploaded briefing is saved under, or a ``UserFacingError`` saying why not.

    Checks only the name, the size and the declared type, so a front end can refuse before
    downloading anything (what the bytes really are is checked when they are read).
    """
    name = (filename or "").strip()
    shown = name[:80] or "(no name)"
    if not name:
        raise UserFacingError("The file has no name.")
    if "/" in name or "\\" in name or ".." in name or "\x00" in name:
        raise UserFacingError(
            f"“{shown}” looks like a path. Upload a plain file name such as 2025-03-01-topic.md."
        )
    if name.startswith("."):
        raise UserFacingError(f"“{shown}” is a hidden file name (it starts with a dot).")
    if PurePosixPath(name).suffix.lower() not in UPLOAD_SUFFIXES:
        raise UserFacingError(f"“{shown}” is not a briefing: only {UPLOAD_KINDS} files can be added.")
    if content_type and content_type.lower().startswith(_NOT_BRIEFINGS):
        kind = content_type.split("/")[0]
        raise UserFacingError(
            f"“{shown}” is {'an' if kind[0] in 'aeiou' else 'a'} {kind} file, not a briefing."
        )
    if len(name) > MAX_FILENAME_CHARS or not _SAFE_FILENAME.fullmatch(name):
        raise UserFacingError(
            f"“{shown}” has characters that are not allowed in a briefing file name: "
            f"use letters, digits, '-', '_' and '.' (at most {MAX_FILENAME_CHARS} characters)."
        )
    if not is_briefing_file(Path(name)):
        raise UserFacingError(f"{name} is reserved for notes about the corpus, not a briefing name.")
    if size > max_bytes:
        raise UserFacingError(f"{name} is {_kb(size)}; briefings can be at most {_kb(max_bytes)}.")
    if size == 0:
        raise UserFacingError(f"{name} is empty.")
    return name


def _kb(n: int) -> str:
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def _write_atomic(path: Path, data: bytes) -> None:
    """Write beside ``path`` under a hidden name, fsync, rename into place, fsync the folder."""
    # A leading dot keeps the half-written file out of any concurrent corpus scan.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)

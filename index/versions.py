"""Index versions on disk: build beside, publish with one atomic switch, roll back, clean up.

Layout of an index folder::

    CURRENT                  the live version id (replaced atomically)
    versions/<id>/           one complete version: manifest.json, vectors.faiss, store.sqlite3
    versions/.<id>.partial   a version being built (cleaned at the next start if abandoned)
    reindex.lock             held while a reindex runs, by any process on this machine
    reindex.lock.json        who holds it and since when
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from index.manifest import Manifest, ManifestError, fsync_dir, read_manifest

CURRENT = "CURRENT"
VERSIONS = "versions"
PARTIAL_SUFFIX = ".partial"
LOCK_WAIT = 1.0  # seconds a reindex waits for the lock: a status probe holds it for microseconds
_VERSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ReindexBusyError(Exception):
    """Another reindex holds the lock."""

    def __init__(self, holder: dict[str, str]) -> None:
        self.holder = holder
        who = holder.get("who") or f"process {holder.get('pid', '?')}"
        since = holder.get("since", "an unknown time")
        super().__init__(f"a reindex is already running ({who} on {holder.get('host', '?')}, since {since})")


@dataclass(frozen=True)
class VersionInfo:
    version: str
    path: Path
    manifest: Manifest | None
    problem: str | None


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class IndexLayout:
    """Paths and atomic operations of one index folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions_dir = root / VERSIONS
        self.current_file = root / CURRENT
        self.lock_file = root / "reindex.lock"
        self.holder_file = root / "reindex.lock.json"

    def ensure(self) -> None:
        self.versions_dir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ versions

    def read_current(self) -> tuple[str | None, str | None]:
        """The version ``CURRENT`` names, and what is wrong with the file if it is damaged
        (garbled, empty, or naming no version); never raises for a bad file."""
        try:
            raw = self.current_file.read_bytes()[:256]
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            return None, f"CURRENT cannot be read ({exc.strerror or exc})"
        value = raw.decode("utf-8", errors="replace").strip()
        if not value:
            return None, "CURRENT is empty"
        if not _VERSION_ID.fullmatch(value):
            return None, "CURRENT is damaged (it does not hold a version id)"
        return value, None

    def current_version(self) -> str | None:
        """The version ``CURRENT`` names, or None when there is none or the file is damaged."""
        return self.read_current()[0]

    def current_problem(self) -> str | None:
        """Why ``CURRENT`` cannot be used although complete versions are on disk, else None."""
        value, problem = self.read_current()
        if value is not None:
            if self.version_dir(value).is_dir():
                return None
            return f"CURRENT names {value}, which is not on disk"
        if problem is None and not self.current_file.exists() and self._newest_complete() is None:
            return None  # no index yet: nothing is wrong
        return problem or "CURRENT is missing"

    def live_version(self) -> str | None:
        """The version to serve and to build on: the one ``CURRENT`` names, or, when the file is
        missing or damaged or names a version that is not on disk, the newest complete one."""
        current = self.current_version()
        if current is not None and self.version_dir(current).is_dir():
            return current
        return self._newest_complete()

    def _newest_complete(self) -> str | None:
        complete = [v.version for v in self.versions() if v.manifest is not None]
        return complete[-1] if complete else None

    def current_stamp(self) -> tuple[int, int] | None:
        """A cheap change detector for CURRENT (inode, mtime): it changes on every switch."""
        try:
            st = self.current_file.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def version_dir(self, version: str) -> Path:
        return self.versions_dir / version

    def new_version_id(self) -> str:
        # Microseconds keep ids (and so their order) distinct for builds within one second.
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        return f"v{stamp}-{secrets.token_hex(2)}"

    def staging_dir(self, version: str) -> Path:
        path = self.versions_dir / f".{version}{PARTIAL_SUFFIX}"
        path.mkdir(parents=True)
        return path

    def publish(self, staging: Path, version: str) -> Path:
        """Move a sealed staging folder into place and make it live with one atomic rename."""
        final = self.version_dir(version)
        os.replace(staging, final)
        fsync_dir(self.versions_dir)
        self.switch(version)
        return final

    def switch(self, version: str) -> None:
        tmp = self.root / f"{CURRENT}.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(version + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.current_file)
        fsync_dir(self.root)

    def versions(self) -> list[VersionInfo]:
        """Complete-looking versions, oldest first (by their manifest's creation time)."""
        out: list[VersionInfo] = []
        if not self.versions_dir.exists():
            return out
        for path in self.versions_dir.iterdir():
            if path.name.startswith(".") or not path.is_dir():
                continue
            try:
                manifest: Manifest | None = read_manifest(path)
                problem = None
            except ManifestError as exc:
                manifest, problem = None, str(exc)
            out.append(VersionInfo(path.name, path, manifest, problem))
        out.sort(key=lambda v: v.version)  # ids start with a UTC timestamp
        return out

    def previous_version(self, version: str | None) -> str | None:
        """The version that ``version`` was built from, if it is still on disk and complete."""
        if version is None:
            return None
        by_id = {v.version: v for v in self.versions()}
        info = by_id.get(version)
        parent = info.manifest.parent if info and info.manifest else None
        while parent is not None:
            cand = by_id.get(parent)
            if cand is not None and cand.manifest is not None:
                return parent
            parent = cand.manifest.parent if cand and cand.manifest else None
        # No recorded parent: the newest complete version older than this one. Never a newer
        # one: rolling back again and again must stop at the oldest, not cycle forward.
        older = [v.version for v in by_id.values() if v.manifest and v.version < version]
        return max(older) if older else None

    def fallbacks(self, version: str) -> list[str]:
        """Other versions to serve when ``version`` is unusable, best first: those it was built
        from (nearest first), then older ones (newest first), then newer ones."""
        infos = self.versions()
        by_id = {v.version: v for v in infos}
        chain: list[str] = []
        info = by_id.get(version)
        parent = info.manifest.parent if info and info.manifest else None
        while parent is not None and parent in by_id and parent not in chain and parent != version:
            chain.append(parent)
            manifest = by_id[parent].manifest
            parent = manifest.parent if manifest else None
        others = [v.version for v in infos if v.version != version]
        older = [v for v in reversed(others) if v < version]
        newer = [v for v in others if v > version]
        return list(dict.fromkeys([*chain, *older, *newer]))

    def clean_partials(self) -> list[str]:
        """Remove half-built versions left by an interrupted reindex (call with the lock held)."""
        removed: list[str] = []
        if not self.versions_dir.exists():
            return removed
        for path in self.versions_dir.iterdir():
            if path.name.endswith(PARTIAL_SUFFIX) or (
                path.is_dir() and not (path / "manifest.json").exists()
            ):
                if path.name == self.live_version():
                    continue
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        # Only our own switch file: other *.tmp files may be mid-write by another process.
        (self.root / f"{CURRENT}.tmp").unlink(missing_ok=True)
        return removed

    def cleanup(self, keep: int) -> list[str]:
        """Delete old versions beyond ``keep`` (the live one is always kept)."""
        current = self.live_version()
        complete = [v for v in self.versions() if v.manifest is not None]
        doomed = [v for v in complete[: max(0, len(complete) - keep)] if v.version != current]
        for v in doomed:
            # Out of sight with one rename first: a crash while deleting leaves a .partial folder
            # (removed at the next start), never a version that looks complete and is not.
            trash = self.versions_dir / f".{v.version}{PARTIAL_SUFFIX}"
            try:
                os.replace(v.path, trash)
            except OSError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
        return [v.version for v in doomed]

    # ------------------------------------------------------------------ lock

    @contextmanager
    def reindex_lock(self, who: str = "") -> Iterator[None]:
        """Hold the cross-process reindex lock, or raise ``ReindexBusyError`` (within a second)."""
        self.ensure()
        lock = FileLock(str(self.lock_file), timeout=LOCK_WAIT)
        try:
            lock.acquire(poll_interval=0.02)
        except Timeout:
            raise ReindexBusyError(self.lock_holder()) from None
        try:
            holder = {"pid": str(os.getpid()), "host": socket.gethostname(), "since": utc_now(), "who": who}
            self.holder_file.write_text(json.dumps(holder), encoding="utf-8")
            yield
        finally:
            self.holder_file.unlink(missing_ok=True)
            lock.release()

    def lock_holder(self) -> dict[str, str]:
        try:
            data = json.loads(self.holder_file.read_text(encoding="utf-8"))
            return {str(k): str(v) for k, v in data.items()}
        except (OSError, ValueError):
            return {}

    def reindex_running(self) -> bool:
        """Whether a reindex holds the lock. Only probes it, through a read-only handle: it never
        creates the lock file (the folder may be read-only) and never blocks a reindex for long."""
        try:
            fd = os.open(self.lock_file, os.O_RDONLY)
        except OSError:
            return False  # no lock file: nothing has ever held it
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

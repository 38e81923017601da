"""The corpus folder -> the briefing files in it, read safely, with everything odd reported.

Nothing outside the folder is ever read: symbolic links are not followed (they are reported,
and a link's target inside the folder is indexed under its own name), files are opened with
``O_NOFOLLOW`` so a file swapped for a link is refused, and pipes or devices are skipped, never
read. A subfolder that cannot be listed is reported, so the briefings under it keep their last
indexed version instead of silently disappearing. A missing or unreadable corpus folder is an
error, never "no briefings".
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.controls import has_control_chars, visible_line
from index.models import Skipped
from index.parsing import DEFAULT_MAX_BYTES, BriefingError, is_briefing_file

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class CorpusUnavailableError(Exception):
    """The corpus folder is missing, not a folder, or cannot be listed."""


@dataclass
class CorpusScan:
    """What a walk of the corpus folder found."""

    files: list[tuple[Path, str]] = field(default_factory=list)  # (path, corpus-relative POSIX path)
    skipped: list[Skipped] = field(default_factory=list)  # links, pipes, unsafe names: with the reason
    unreadable_dirs: list[str] = field(default_factory=list)  # subfolders that could not be listed
    identity: dict[str, tuple[int, int]] = field(default_factory=dict)  # rel -> (device, inode) seen

    def under_unreadable(self, rel_path: str) -> bool:
        """Whether ``rel_path`` lies in a subfolder that could not be listed this time."""
        return any(rel_path.startswith(d + "/") for d in self.unreadable_dirs)


def scan_corpus(corpus_dir: Path) -> CorpusScan:
    """Every briefing file under ``corpus_dir`` (hidden names skipped), sorted by path.

    Raises ``CorpusUnavailableError`` when the folder itself cannot be read."""
    try:
        if not stat.S_ISDIR(os.stat(corpus_dir).st_mode):
            raise CorpusUnavailableError(f"the corpus folder {corpus_dir} is not a folder")
    except OSError as exc:
        raise CorpusUnavailableError(
            f"the corpus folder {corpus_dir} cannot be read ({exc.strerror or exc})"
        ) from exc
    root_real = os.path.realpath(corpus_dir)
    scan = CorpusScan()
    stack: list[tuple[str, str]] = [(str(corpus_dir), "")]
    while stack:
        folder, rel = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            if not rel:
                raise CorpusUnavailableError(
                    f"the corpus folder {corpus_dir} cannot be listed ({exc.strerror or exc})"
                ) from exc
            scan.unreadable_dirs.append(rel)
            scan.skipped.append(
                Skipped(visible_line(rel) + "/", f"folder cannot be read ({exc.strerror or exc})")
            )
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            child = f"{rel}/{entry.name}" if rel else entry.name
            _visit(entry, child, root_real, scan, stack)
    scan.files.sort(key=lambda item: item[1])
    return scan


def _visit(
    entry: os.DirEntry[str], rel: str, root_real: str, scan: CorpusScan, stack: list[tuple[str, str]]
) -> None:
    try:
        is_link = entry.is_symlink()
        is_dir = not is_link and entry.is_dir(follow_symlinks=False)
    except OSError as exc:
        scan.skipped.append(Skipped(visible_line(rel), f"cannot be read ({exc.strerror or exc})"))
        return
    briefing_like = is_dir or is_briefing_file(Path(entry.name))
    if is_link:
        if briefing_like or _points_to_folder(entry.path):
            scan.skipped.append(Skipped(visible_line(rel), _link_reason(entry.path, root_real)))
        return
    if not briefing_like:
        return
    if has_control_chars(entry.name):
        scan.skipped.append(
            Skipped(visible_line(rel), "the name holds control characters (a newline, an escape…); rename it")
        )
        return
    if is_dir:
        stack.append((entry.path, rel))
        return
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError as exc:
        scan.skipped.append(Skipped(visible_line(rel), f"cannot be read ({exc.strerror or exc})"))
        return
    if not stat.S_ISREG(st.st_mode):
        scan.skipped.append(
            Skipped(visible_line(rel), "not a regular file (a pipe, socket or device); not read")
        )
        return
    scan.files.append((Path(entry.path), rel))
    scan.identity[rel] = (st.st_dev, st.st_ino)


def _points_to_folder(path: str) -> bool:
    try:
        return os.path.isdir(path)
    except OSError:
        return False


def _link_reason(path: str, root_real: str) -> str:
    target = os.path.realpath(path)
    inside = target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep)
    if inside:
        return "symbolic link: not followed (the file it points to is indexed under its own name)"
    return "symbolic link to something outside the corpus folder: not followed"


def iter_corpus(corpus_dir: Path) -> Iterator[tuple[Path, str]]:
    """Briefing files under ``corpus_dir``, sorted; nothing when the folder cannot be read."""
    try:
        yield from scan_corpus(corpus_dir).files
    except CorpusUnavailableError:
        return


def read_bytes(
    path: Path, max_bytes: int = DEFAULT_MAX_BYTES, identity: tuple[int, int] | None = None
) -> bytes:
    """A briefing file's bytes: a regular file, not through a link, refused before reading when
    it is over ``max_bytes``. With ``identity`` (device, inode from the scan), a file that is no
    longer the one the scan saw (a folder swapped for a link meanwhile) is refused too."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BriefingError("symbolic link: not followed") from exc
        raise BriefingError(f"cannot read file: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BriefingError("not a regular file (a pipe, socket or device); not read")
        if identity is not None and (st.st_dev, st.st_ino) != identity:
            raise BriefingError("changed while the folder was read; it is read again at the next reindex")
        if st.st_size > max_bytes:
            raise BriefingError(f"too large: {_mb(st.st_size)} (limit {_mb(max_bytes)})")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:  # it grew while being read
            raise BriefingError(f"too large: over {_mb(max_bytes)}")
        return b"".join(chunks)
    except OSError as exc:
        raise BriefingError(f"cannot read file: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"

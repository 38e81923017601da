"""How the corpus folder differs from an index version (after a rollback, say).

A rollback restores an index, not the files: people should be told when the folder now holds
briefings the live index does not, or lacks ones it does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from index.corpus import iter_corpus, read_bytes
from index.parsing import BriefingError, briefing_id_for

if TYPE_CHECKING:
    from index.build import BuildOptions

SHOWN = 5  # file names listed per kind of difference


@dataclass(frozen=True)
class CorpusDrift:
    """Briefing files that are new, changed, or gone compared with an index (relative paths)."""

    not_indexed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.not_indexed or self.changed or self.missing)

    def describe(self) -> str:
        """One plain sentence or two for a report."""
        parts = []
        for items, what in (
            (self.changed, "changed on disk since"),
            (self.not_indexed, "on disk but not in this index"),
            (self.missing, "in this index but no longer on disk"),
        ):
            if items:
                names = ", ".join(items[:SHOWN]) + (
                    f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
                )
                parts.append(f"{len(items)} {'file' if len(items) == 1 else 'files'} {what} ({names})")
        return (
            "The corpus folder differs from the restored index: "
            + "; ".join(parts)
            + ". The next reindex (by a moderator, the watcher or the schedule) indexes the folder as it is now."
        )


def corpus_drift(
    corpus_dir: Path, indexed: Mapping[str, tuple[str, str]], options: BuildOptions | None = None
) -> CorpusDrift:
    """Compare the readable briefing files under ``corpus_dir`` with ``indexed``
    (briefing_id -> (path, sha256)). Blocking: call from a worker thread."""
    max_bytes = options.max_bytes if options is not None else None
    on_disk: dict[str, tuple[str, str]] = {}
    if corpus_dir.is_dir():
        for path, rel in iter_corpus(corpus_dir):
            try:
                data = read_bytes(path, max_bytes) if max_bytes is not None else read_bytes(path)
            except BriefingError:
                continue  # unreadable files are reported by every reindex already
            on_disk.setdefault(briefing_id_for(rel), (rel, hashlib.sha256(data).hexdigest()))
    changed = sorted(on_disk[b][0] for b in on_disk.keys() & indexed.keys() if on_disk[b] != indexed[b])
    not_indexed = sorted(on_disk[b][0] for b in on_disk.keys() - indexed.keys())
    missing = sorted(indexed[b][0] for b in indexed.keys() - on_disk.keys())
    return CorpusDrift(not_indexed, changed, missing)

"""Which version to roll back to, or to serve when the live one is unusable, from the versions
that exist and the version each was built from. Pure functions, shared by both backends."""

from __future__ import annotations

from collections.abc import Mapping


def previous_version(parents: Mapping[str, str | None], version: str | None) -> str | None:
    """The version ``version`` was built from, if it still exists; else the newest other one.
    ``parents`` maps every complete version to its parent."""
    if version is None:
        return None
    parent = parents.get(version)
    if parent is not None and parent in parents:
        return parent
    older = sorted(v for v in parents if v != version)
    return older[-1] if older else None


def fallbacks(parents: Mapping[str, str | None], version: str) -> list[str]:
    """Versions to serve when ``version`` is unusable, best first: those it was built from
    (nearest first), then older ones (newest first), then newer ones. Ids sort by time."""
    chain: list[str] = []
    parent = parents.get(version)
    while parent is not None and parent in parents and parent not in chain and parent != version:
        chain.append(parent)
        parent = parents.get(parent)
    others = sorted(v for v in parents if v != version)
    older = [v for v in reversed(others) if v < version]
    newer = [v for v in others if v > version]
    return list(dict.fromkeys([*chain, *older, *newer]))

"""Who may see a briefing: its ``audience`` front matter, and the viewer asking.

This is the one place the audience rules live (the parser reads audiences with
``read_audience``; search, handlers and the bot ask ``Viewer.may_see``):

- no ``audience`` key: public (``all``);
- ``all`` (any case, any surrounding spaces): public;
- role names (a string, comma-separated, or a list of strings): members with one of those roles,
  compared without regard to case or repeated spaces, and moderators;
- anything that cannot be read as that (a mapping, an empty list, ``null``, an empty string, a
  list holding something other than text): hidden from everyone but moderators, and reported.
  A restriction never fails open.

A public answer (``Viewer.public``, seen by a whole channel) only ever uses public briefings.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PUBLIC = "all"
# An audience that could not be read: it names no role, so only moderators (who see every
# briefing) may see it.
MODERATORS_ONLY: tuple[str, ...] = ()

_shown = reprlib.Repr()
_shown.maxstring = _shown.maxother = 60
_shown.maxlist = _shown.maxdict = 4
_shown.maxlevel = 2


def name_key(name: str) -> str:
    """How audience and role names are compared: case-folded, spaces collapsed."""
    return " ".join(name.split()).casefold()


def is_public(audience: Sequence[str]) -> bool:
    """Whether everyone may see a briefing with this audience."""
    return any(name_key(a) == PUBLIC for a in audience)


def describe(audience: Sequence[str]) -> str:
    """The audience as moderators read it in lists and reports."""
    if not audience:
        return "moderators only (its audience could not be read)"
    return ", ".join(audience)


def read_audience(front: dict[str, Any]) -> tuple[tuple[str, ...], str | None]:
    """The audience of a briefing from its front matter, and a warning when it could not be read
    (the briefing is then hidden from everyone but moderators)."""
    if "audience" not in front:
        return (PUBLIC,), None
    value = front["audience"]
    items: list[Any] = (
        value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    )
    names = [" ".join(v.split()) for v in items if isinstance(v, str)]
    if not items or len(names) != len(items) or not all(names):
        problem = f"audience {_shown.repr(value)} cannot be read (write `all` or role names)"
        return MODERATORS_ONLY, f"{problem}; only moderators can see this briefing until it is fixed"
    if is_public(names) and len(names) > 1:
        return (PUBLIC,), f"audience lists 'all' with {len(names) - 1} other value(s): the briefing is public"
    return tuple(names), None


@dataclass(frozen=True)
class Viewer:
    """Who is asking, for audience checks. The console and moderators see everything."""

    roles: frozenset[str] = frozenset()
    is_moderator: bool = False
    public: bool = False  # the answer will be visible to everyone in a channel

    def may_see(self, audience: Sequence[str]) -> bool:
        if is_public(audience):
            return True
        if self.public:
            return False
        if self.is_moderator:
            return True
        wanted = {name_key(a) for a in audience}
        return bool(wanted & {name_key(r) for r in self.roles})


EVERYONE = Viewer(public=True)
LOCAL_USER = Viewer(is_moderator=True)

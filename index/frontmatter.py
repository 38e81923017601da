"""YAML front matter read with limits: a briefing's metadata can never freeze or flood the bot.

Front matter is small ``key: value`` metadata, so anything that only an attack needs is refused
with a clear reason: more than ``MAX_BYTES`` of it, aliases (``*name``, the "billion laughs"
bomb), nesting deeper than ``MAX_DEPTH``, and a key given twice (the second would silently win,
e.g. ``audience``). Dates are kept as text (``2024-02-30`` becomes a warning, not a crash), and
``shown`` prints any value short, whatever its size or depth.
"""

from __future__ import annotations

import re
import reprlib
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

MAX_BYTES = 64 * 1024
MAX_DEPTH = 20

_OPENING = re.compile(r"---[ \t]*(?:\r\n|\r|\n|$)")
# At the start of a line, whichever the line break before it (\r\n, \r or \n).
_CLOSING = re.compile(r"(?<=[\r\n])(?:---|\.\.\.)[ \t]*(?:\r\n|\r|\n|$)")

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 80
_repr.maxlist = _repr.maxdict = _repr.maxtuple = _repr.maxset = 4
_repr.maxlevel = 2


class FrontMatterError(Exception):
    """Front matter that cannot be read; the message is meant for the person who wrote it."""


def shown(value: Any) -> str:
    """A short printable form of any front matter value (bounded, whatever its size)."""
    return _repr.repr(value)


class _LimitedLoader(yaml.SafeLoader):
    """``SafeLoader`` without aliases, deep nesting, repeated keys or date conversion."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise FrontMatterError(f"uses a YAML alias (*name) at line {mark.line + 2}; write the value out")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise FrontMatterError(f"is nested more than {MAX_DEPTH} levels deep (line {mark.line + 2})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode):
                key = str(key_node.value).lower()
                if key in seen:
                    line = key_node.start_mark.line + 2
                    raise FrontMatterError(f"gives '{key_node.value}' twice (line {line}); keep one")
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


# Dates stay text: the briefing reader checks them and warns about impossible ones.
_LimitedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def split_front_matter(text: str) -> tuple[dict[str, Any], int]:
    """YAML front matter between ``---`` lines at the top (keys lower-cased), and where the body
    starts. Raises ``FrontMatterError`` with a reason when it cannot be read."""
    opening = _OPENING.match(text)
    if opening is None:
        return {}, 0
    closing = _CLOSING.search(text, opening.end())
    if closing is None:
        raise FrontMatterError("starts with '---' but has no closing '---' line")
    raw = text[opening.end() : closing.start()]
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise FrontMatterError(f"is over {MAX_BYTES // 1024} KB; keep it to a few lines of metadata")
    try:
        data = yaml.load(raw, Loader=_LimitedLoader) if raw.strip() else {}  # a SafeLoader subclass
    except FrontMatterError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FrontMatterError(f"is not valid YAML{where}: {problem}") from exc
    except (RecursionError, MemoryError, ValueError, TypeError, OverflowError) as exc:
        raise FrontMatterError(f"cannot be read ({type(exc).__name__})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontMatterError("must be 'key: value' lines (a YAML mapping)")
    return {str(k).lower(): v for k, v in data.items()}, closing.end()

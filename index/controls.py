"""Control characters: found in names, and shown visibly (never executed) in a terminal.

An ESC in a briefing could drive the terminal that prints it (colours, cursor moves, a fake
prompt); bidirectional overrides make a name read differently from what it is. Text shown in
the console or the CLI passes through ``visible``: each such character becomes a readable
escape such as ``\\x1b`` or ``<U+202E>``.
"""

from __future__ import annotations

import re

# C0 and C1 controls and DEL, except tab and newline; bidirectional embeddings, overrides
# and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_NEWLINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"<U+{code:04X}>"


def visible(text: str) -> str:
    """``text`` with control characters (all but tab and newline) written out visibly."""
    return _CONTROL.sub(_escape, text)


def visible_line(text: str) -> str:
    """``visible``, newlines and tabs too: for one-line things such as names and paths."""
    return _CONTROL_OR_NEWLINE.sub(_escape, text)


def has_control_chars(text: str) -> bool:
    """Whether ``text`` holds a control character (tab and newline included): not a sane name."""
    return _CONTROL_OR_NEWLINE.search(text) is not None

"""A title people can read for a briefing that does not give one.

Front matter and a title-like first heading win (see ``parsing``). After them comes a file
name a person chose ("2024-03-05-harbour-update" -> "Harbour update"); a machine-made name
("000_457032d09a867f08") is no title, so the briefing's lead sentence, clipped at a word,
names it instead.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

TITLE_CHARS = 90

_DATE_IN_NAME = re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s")
_BULLET = re.compile(r"^\s*(?:[-*+•–—▪◦●]|\(?\d{1,3}[.)])\s+")


def filename_title(name: str) -> str | None:
    """The words of a file name a person chose, or None for a machine-made name."""
    stem = PurePosixPath(name).stem
    stripped = _DATE_IN_NAME.sub("", stem).strip(" -_")
    words = re.sub(r"[-_]+", " ", stripped or stem).strip()
    if not words or not re.search(r"[^\W\d_]{3,}", words) or re.search(r"[0-9a-f]{8,}", words):
        return None
    return words[:1].upper() + words[1:]


def lead_title(text: str, limit: int = TITLE_CHARS) -> str | None:
    """The first sentence of ``text`` as a title: no final full stop, clipped at a word."""
    flat = " ".join(_BULLET.sub("", text).split())
    if not flat:
        return None
    m = _SENTENCE_END.search(flat)
    sentence = (flat[: m.start()] if m else flat).strip()
    sentence = sentence.rstrip(".").rstrip()
    if len(re.findall(r"[^\W\d_]{2,}", sentence)) < 3:
        return None  # "Yes." or "12:00" names nothing
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1]
    clause = max(cut.rfind(mark) for mark in (", ", "; ", " – ", " — ", ": "))
    if clause >= limit * 0.6:  # a whole clause reads better than a cut word group
        cut = cut[:clause]
    elif " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(",;:–—- ") + "…"


def readable_title(name: str, lead: str) -> str:
    """A title from the file name, else from the lead text, else the file name as it is."""
    return filename_title(name) or lead_title(lead) or PurePosixPath(name).stem

""" "What's new?": questions about the newest briefings themselves, answered with a digest.

"What's new this week?" or "what is the most recent briefing about?" name no topic: searching
them quotes whatever paragraph says "new". They get the newest briefings instead (title,
date, key takeaways verbatim). A question that names a topic ("the latest on the strike?")
is an ordinary question and goes to search.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from index.models import BriefingMeta, Passage
from index.timeparse import TimeIntent, parse_time

DIGEST_BRIEFINGS = 5
TAKEAWAYS_MAX = 3  # passages quoted per briefing

_TRIGGER = re.compile(r"\b(?:new|newest|latest|recent(?:ly)?|updates?|news|lately)\b", re.I)
_WORD = re.compile(r"[a-z']+")
# Words a "what's new" question is made of when it names no topic.
_GENERIC = frozenset(
    [
        "what",
        "what's",
        "whats",
        "s",
        "is",
        "are",
        "was",
        "were",
        "the",
        "a",
        "an",
        "any",
        "anything",
        "there",
        "here",
        "new",
        "newest",
        "latest",
        "recent",
        "recently",
        "most",
        "briefing",
        "briefings",
        "brief",
        "briefs",
        "update",
        "updates",
        "news",
        "about",
        "of",
        "in",
        "on",
        "for",
        "been",
        "has",
        "have",
        "had",
        "lately",
        "today",
        "week",
        "weeks",
        "month",
        "months",
        "day",
        "days",
        "year",
        "tell",
        "me",
        "us",
        "show",
        "list",
        "give",
        "summary",
        "summarise",
        "summarize",
        "summaries",
        "happened",
        "happening",
        "going",
        "added",
        "published",
        "posted",
        "last",
        "past",
        "this",
        "few",
        "couple",
        "our",
        "we",
        "you",
        "do",
        "did",
        "please",
        "hey",
        "hi",
        "so",
        "far",
        "since",
        "then",
        "and",
        "or",
        "to",
        "from",
        "that",
        "which",
    ]
)
# Sections whose passages are a briefing's key takeaways.
TAKEAWAY_SECTIONS = frozenset({"key takeaways", "takeaways", "summary", "highlights", "tl;dr", "overview"})


@dataclass
class DigestItem:
    """One briefing in a digest and the passages quoted from it (verbatim, in order)."""

    meta: BriefingMeta
    takeaways: list[Passage]


@dataclass
class Digest:
    """The newest briefings the asker may see, newest first."""

    question: str
    items: list[DigestItem]
    index_version: str
    notes: list[str] = field(default_factory=list)


def is_whats_new(question: str, today: date) -> TimeIntent | None:
    """The question's time intent when it asks what is new without naming a topic, else None."""
    text = question.replace("’", "'")
    if not _TRIGGER.search(text):
        return None
    intent = parse_time(text, today)
    rest = intent.query if intent.has_range and not intent.soft else text
    words = [w.strip("'") for w in _WORD.findall(rest.lower())]
    if any(w and not _generic(w) for w in words):
        return None
    return intent


def _generic(word: str) -> bool:
    return word in _GENERIC or (word.endswith("s") and word[:-1] in _GENERIC)


def newest_first(metas: Sequence[BriefingMeta]) -> list[BriefingMeta]:
    """Briefings by date, newest first; an undated one by the day it was first indexed."""
    return sorted(metas, key=lambda m: (m.date or m.added or date.min, m.title), reverse=True)


def build_digest(
    question: str,
    intent: TimeIntent,
    metas: Sequence[BriefingMeta],
    passages_of: Callable[[str], list[Passage]],
    index_version: str,
    n: int = DIGEST_BRIEFINGS,
) -> Digest:
    """The ``n`` newest of ``metas`` (already filtered to what the asker may see) in the
    question's date window, each with its key takeaways."""
    ordered = newest_first(metas)
    notes: list[str] = []
    if intent.has_range and not intent.soft:
        inside = [m for m in ordered if _within(m.date or m.added, intent)]
        if inside:
            notes.append(f"Briefings {intent.describe()}, newest first.")
            ordered = inside
        else:
            notes.append(f"No briefing is {intent.describe()}; the newest are shown.")
    items = [DigestItem(m, takeaways(passages_of(m.briefing_id))) for m in ordered[:n]]
    return Digest(question, [i for i in items if i.takeaways], index_version, notes)


def takeaways(passages: Sequence[Passage]) -> list[Passage]:
    """The passages of a "Key Takeaways" (or summary) section, else the briefing's first one."""
    marked = [p for p in passages if any(s.casefold().rstrip(":") in TAKEAWAY_SECTIONS for s in p.section)]
    return list(marked[:TAKEAWAYS_MAX] or passages[:1])


def _within(day: date | None, intent: TimeIntent) -> bool:
    if day is None:
        return False
    return (intent.date_from is None or day >= intent.date_from) and (
        intent.date_to is None or day <= intent.date_to
    )

"""Time in questions: "latest", "this week", "since March", "as of 2024-10", "in 2023".

Briefings are dated news, so a question's time words become a date range to filter by and/or
a wish for the newest answer. The phrase is removed from the text used for retrieval.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

_MONTHS = {
    name: i for i in range(1, 13) for name in {calendar.month_name[i].lower(), calendar.month_abbr[i].lower()}
}
_MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))

# A point in time: 2024-10-31, 2024-10, "October 2024", "Oct 3, 2024", "October", 2024.
_POINT = (
    rf"(?P<iso>\d{{4}}-\d{{1,2}}(?:-\d{{1,2}})?)(?!\d)"
    rf"|(?P<month>(?:{_MONTH_RE})\.?)(?:\s+(?P<mday>\d{{1,2}})(?!\d)(?:st|nd|rd|th)?,?)?(?:\s+(?P<myear>\d{{4}})(?!\d))?"
    rf"|(?P<year>(?:19|20)\d{{2}})(?!\d)"
)

# Only words that ask for the newest state. "Recently" or "currently" are too common in
# ordinary questions to reorder answers by date.
_RECENT = re.compile(
    r"\b(?:latest|most recent|newest|up[- ]to[- ]date|current (?:status|state|situation))\b", re.I
)


@dataclass(frozen=True)
class TimeIntent:
    """What a question says about time."""

    date_from: date | None = None
    date_to: date | None = None
    prefer_recent: bool = False
    soft: bool = False  # "in 2023" may be about the content, so it ranks rather than filters
    phrase: str = ""  # the words that said it, as written
    query: str = ""  # the question without those words

    @property
    def has_range(self) -> bool:
        return self.date_from is not None or self.date_to is not None

    def describe(self) -> str:
        if self.date_from and self.date_to:
            if self.date_from == self.date_to:
                return f"dated {self.date_from.isoformat()}"
            return f"dated {self.date_from.isoformat()} to {self.date_to.isoformat()}"
        if self.date_from:
            return f"dated {self.date_from.isoformat()} or later"
        if self.date_to:
            return f"dated {self.date_to.isoformat()} or earlier"
        return "the newest first" if self.prefer_recent else ""


def _shift(d: date, days: int) -> date:
    """``d`` moved by ``days``, held within the calendar (9999-12-31 plus a day stays put)."""
    try:
        return d + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _point(m: re.Match[str], today: date) -> tuple[date, date] | None:
    """The first and last day a matched point in time covers."""
    try:
        if m.group("iso"):
            parts = [int(x) for x in m.group("iso").split("-")]
            if len(parts) == 3:
                d = date(parts[0], parts[1], parts[2])
                return d, d
            return date(parts[0], parts[1], 1), _month_end(parts[0], parts[1])
        if m.group("month"):
            month = _MONTHS[m.group("month").rstrip(".").lower()]
            if m.group("myear"):
                year = int(m.group("myear"))
            else:
                # "since March" means the latest March that has begun.
                year = today.year if month <= today.month else today.year - 1
            if m.group("mday"):
                d = date(year, month, int(m.group("mday")))
                return d, d
            return date(year, month, 1), _month_end(year, month)
        if m.group("year"):
            y = int(m.group("year"))
            return date(y, 1, 1), date(y, 12, 31)
    except (ValueError, KeyError):
        return None
    return None


def parse_time(question: str, today: date) -> TimeIntent:
    """Find the time constraint in ``question`` relative to ``today``."""
    text = question
    patterns: list[tuple[re.Pattern[str], str]] = [
        (re.compile(rf"\b(?:as of|as at)\s+(?:{_POINT})", re.I), "as_of"),
        (re.compile(rf"\b(?:since|after|from)\s+(?:{_POINT})", re.I), "since"),
        (re.compile(rf"\b(?:before|until|till|prior to|up to)\s+(?:{_POINT})", re.I), "before"),
        (re.compile(rf"\b(?:in|during|on|of|for)\s+(?:{_POINT})", re.I), "in"),
    ]
    for pattern, kind in patterns:
        m = pattern.search(text)
        if not m:
            continue
        # "may" is usually the verb: as a month alone it needs a time word right before it.
        bare_may = (
            m.group("month")
            and m.group("month").lower() == "may"
            and not (m.group("myear") or m.group("mday"))
        )
        if bare_may and not re.search(r"\b(?:since|after|before|until|in|during|as of)\s+May\b", m.group(0)):
            continue
        span = _point(m, today)
        if span is None:
            continue
        first, last = span
        rest = _strip(text, m.start(), m.end())
        if kind == "as_of":
            return TimeIntent(None, last, True, False, m.group(0), rest)
        if kind == "since":
            inclusive = not m.group(0).lower().startswith("after")
            return TimeIntent(first if inclusive else _shift(last, 1), None, True, False, m.group(0), rest)
        if kind == "before":
            return TimeIntent(None, _shift(first, -1), True, False, m.group(0), rest)
        # "in 2019" may name when something happened rather than when it was reported, so it
        # prefers briefings of that time instead of excluding others, and the words stay.
        return TimeIntent(first, last, False, True, m.group(0), text)

    try:
        relative = _relative(text, today)
    except (OverflowError, ValueError):  # "last year" in year 1: no such range
        relative = None
    if relative is not None:
        return relative
    m = _RECENT.search(text)
    if m:
        return TimeIntent(None, None, True, False, m.group(0), text)
    return TimeIntent(query=text)


def _relative(text: str, today: date) -> TimeIntent | None:
    rules: list[tuple[str, tuple[date, date]]] = []
    monday = today - timedelta(days=today.weekday())
    first_this_month = today.replace(day=1)
    last_month_end = first_this_month - timedelta(days=1)
    rules = [
        (r"\btoday\b", (today, today)),
        (r"\byesterday\b", (today - timedelta(days=1), today - timedelta(days=1))),
        (r"\bthis week\b", (monday, today)),
        (r"\blast week\b", (monday - timedelta(days=7), monday - timedelta(days=1))),
        (r"\bthis month\b", (first_this_month, today)),
        (r"\blast month\b", (last_month_end.replace(day=1), last_month_end)),
        (r"\bthis year\b", (date(today.year, 1, 1), today)),
        (r"\blast year\b", (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))),
    ]
    for pattern, (first, last) in rules:
        m = re.search(pattern, text, re.I)
        if m:
            return TimeIntent(first, last, True, False, m.group(0), _strip(text, m.start(), m.end()))
    m = re.search(r"\b(?:in |over )?the (?:last|past) (\d{1,3}) (day|week|month|year)s?\b", text, re.I)
    if m:
        n = int(m.group(1))
        days = {"day": 1, "week": 7, "month": 30, "year": 365}[m.group(2).lower()] * n
        return TimeIntent(
            _shift(today, -days), today, True, False, m.group(0), _strip(text, m.start(), m.end())
        )
    return None


def _strip(text: str, start: int, end: int) -> str:
    return " ".join((text[:start] + " " + text[end:]).split())

"""Plain data types shared by the index: briefings, passages, answers and reindex reports."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from index import audience as audiences

SECTION_SEPARATOR = " › "
REPORT_MAX_ITEMS = 1000
REPORT_MAX_CHARS = 500
Day = date  # inside the dataclasses below a field named ``date`` hides the type

Strength = Literal["strong", "weak"]


@dataclass(frozen=True)
class BriefingMeta:
    """What is known about one briefing file, from its front matter, headings and name."""

    briefing_id: str
    path: str  # relative to the corpus folder, POSIX separators
    title: str
    date: date | None
    source: str | None = None
    url: str | None = None
    tags: tuple[str, ...] = ()
    audience: tuple[str, ...] = ("all",)
    sha256: str = ""
    size: int = 0
    warnings: tuple[str, ...] = ()
    added: Day | None = None  # the day the index first held this briefing (not its date)

    @property
    def date_label(self) -> str:
        return self.date.isoformat() if self.date else "undated"

    @property
    def when_label(self) -> str:
        """The briefing's date; when it has none, the day it was first indexed, said as such."""
        return when_label(self.date, self.added)

    @property
    def is_public(self) -> bool:
        return audiences.is_public(self.audience)


@dataclass(frozen=True)
class Block:
    """One quotable unit of a briefing before chunking: a paragraph, bullet, quote or table."""

    start: int
    end: int
    section: tuple[str, ...]
    kind: str  # paragraph | bullet | quote | table | code
    paragraph: int  # 1-based position among the briefing's body blocks


@dataclass(frozen=True)
class Passage:
    """A retrievable, quotable span of a briefing: ``text == file_text[start:end]``."""

    passage_id: str
    vid: int  # 63-bit integer form of passage_id, the FAISS and FTS row id
    briefing_id: str
    ordinal: int  # position among the briefing's passages, 0-based
    paragraph: int
    paragraph_end: int  # equals paragraph unless tiny neighbours were merged in
    part: str  # "" or "a", "b", ... when a long paragraph was split
    section: tuple[str, ...]
    start: int
    end: int
    text: str
    content_hash: str
    kind: str
    sentences: tuple[tuple[int, int], ...] = ()  # offsets relative to ``text``
    page: int | None = None  # the page the passage starts on (PDF), else None

    @property
    def paragraph_label(self) -> str:
        base = str(self.paragraph)
        if self.paragraph_end != self.paragraph:
            base = f"{self.paragraph}–{self.paragraph_end}"
        return base + self.part

    @property
    def section_label(self) -> str:
        return SECTION_SEPARATOR.join(self.section)


@dataclass(frozen=True)
class ParsedBriefing:
    meta: BriefingMeta
    text: str
    passages: tuple[Passage, ...]


@dataclass(frozen=True)
class Attribution:
    """Where a quote comes from, in the words a reader can check."""

    briefing_id: str
    title: str
    date: date | None
    section: str
    paragraph: int
    paragraph_label: str
    path: str
    url: str | None
    source: str | None
    page: int | None = None  # PDF page of the quote
    added: Day | None = None

    @property
    def date_label(self) -> str:
        return self.date.isoformat() if self.date else "undated"

    @property
    def when_label(self) -> str:
        return when_label(self.date, self.added)


def when_label(when: date | None, added: date | None) -> str:
    """``2024-10-31``, or ``added 2025-03-01`` for an undated briefing, or ``undated``."""
    if when is not None:
        return when.isoformat()
    return f"added {added.isoformat()}" if added is not None else "undated"


@dataclass
class Quote:
    """One verbatim passage in an answer, with its attribution and how well it matches."""

    passage_id: str
    text: str
    attribution: Attribution
    score: float  # calibrated confidence in [0, 1]
    strength: Strength
    start: int
    end: int
    highlight: tuple[int, int] | None = None  # best sentence, offsets relative to text
    also_in: list[Attribution] = field(default_factory=list)
    audience: tuple[str, ...] = ("all",)

    @property
    def briefing_id(self) -> str:
        return self.attribution.briefing_id


@dataclass
class Answer:
    """The one object every front end renders."""

    question: str
    abstained: bool
    quotes: list[Quote]
    index_version: str
    notes: list[str] = field(default_factory=list)
    timeline: bool = False  # quotes come from several dates and are ordered newest first
    date_from: date | None = None
    date_to: date | None = None
    elapsed_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of ``briefbot ask --json``."""
        return {
            "question": self.question,
            "abstained": self.abstained,
            "quotes": [quote_json(q) for q in self.quotes],
            "index_version": self.index_version,
            "notes": list(self.notes),
            "timeline": self.timeline,
        }


def quote_json(q: Quote) -> dict[str, Any]:
    a = q.attribution
    return {
        "text": q.text,
        "briefing_id": a.briefing_id,
        "title": a.title,
        "date": a.date.isoformat() if a.date else None,
        "added": a.added.isoformat() if a.added else None,
        "section": a.section,
        "paragraph": a.paragraph,
        "paragraph_label": a.paragraph_label,
        "path": a.path,
        "url": a.url,
        "source": a.source,
        "page": a.page,
        "score": round(q.score, 4),
        "strength": q.strength,
        "passage_id": q.passage_id,
        "start": q.start,
        "end": q.end,
        "highlight": list(q.highlight) if q.highlight else None,
        "also_in": [
            {"briefing_id": o.briefing_id, "title": o.title, "date": o.date_label, "paragraph": o.paragraph}
            for o in q.also_in
        ],
    }


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class ReindexReport:
    """What one reindex did, for people (CLI, Discord, mod-log) and for machines (``--json``)."""

    version: str | None
    previous_version: str | None = None
    briefings_added: list[str] = field(default_factory=list)
    briefings_changed: list[str] = field(default_factory=list)
    briefings_removed: list[str] = field(default_factory=list)
    briefings_total: int = 0
    passages_added: int = 0
    passages_removed: int = 0
    passages_total: int = 0
    passages_embedded: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    # per format ("pdf", "docx", "html", "eml", "markdown", "text"): files, indexed, skipped
    formats: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    full_rebuild: bool = False
    rebuild_reason: str | None = None
    changed: bool = True  # False when the corpus matched the live index and nothing was written
    check_changes: list[dict[str, Any]] = field(default_factory=list)
    rolled_back: bool = False
    finished_at: str = ""
    # Why nothing was published (the live version is unchanged), and what kind of refusal:
    # "shrink" (too many briefings would go: --allow-shrink or a moderator's confirmation),
    # "empty" (no briefing at all) or "corpus" (the corpus folder cannot be read).
    refused: str | None = None
    refused_kind: str | None = None
    omitted: dict[str, int] = field(default_factory=dict)  # entries left out of long lists
    would_lose: int = 0  # briefings a refused ("shrink") reindex would have removed
    phases: dict[str, float] = field(default_factory=dict)  # seconds per build phase (scan, copy, seal...)

    def cap(self, items: int = REPORT_MAX_ITEMS, chars: int = REPORT_MAX_CHARS) -> None:
        """Keep the report small whatever happened: at most ``items`` entries a list (the rest
        counted in ``omitted``) and ``chars`` characters a line."""

        def clip(text: str) -> str:
            return text if len(text) <= chars else text[: chars - 1] + "…"

        for name in ("briefings_added", "briefings_changed", "briefings_removed", "warnings", "skipped"):
            values: list[Any] = getattr(self, name)
            if len(values) > items:
                self.omitted[name] = self.omitted.get(name, 0) + len(values) - items
                del values[items:]
        self.briefings_added = [clip(x) for x in self.briefings_added]
        self.briefings_changed = [clip(x) for x in self.briefings_changed]
        self.briefings_removed = [clip(x) for x in self.briefings_removed]
        self.warnings = [clip(x) for x in self.warnings]
        self.skipped = [Skipped(clip(s.path), clip(s.reason)) for s in self.skipped]
        if self.refused:
            self.refused = clip(self.refused)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        data["seconds"] = round(self.seconds, 3)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReindexReport:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["skipped"] = [Skipped(**s) for s in data.get("skipped", [])]
        return cls(**kwargs)

    @property
    def publishable_with_confirmation(self) -> bool:
        """Refused only because many briefings would go: a moderator may confirm it."""
        return self.refused_kind == "shrink"

"""The coverage-gaps report: questions that went unanswered or got a 👎, by topic. Pure.

Lines for a message and a CSV file for a spreadsheet. Nobody's name is in either: the store
keeps none.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.feedback_store import REASONS, FeedbackStore, GapRow
from index.embedder import Embedder
from index.gaps import Topic, group_questions

TOPICS_SHOWN = 8
EXAMPLES = 3
OUTCOME_WORDS = {"abstained": "no confident answer", "nothing": "nothing found", "answered": "answered"}
CSV_COLUMNS = [
    "topic",
    "topic_words",
    "asked_utc",
    "question",
    "outcome",
    "feedback",
    "quotes_shown",
    "index_version",
]


@dataclass
class GapsReport:
    """Rows grouped into topics, biggest topic first."""

    rows: list[GapRow]
    topics: list[Topic]
    days: int


def row_kind(row: GapRow) -> str:
    """What went wrong with one question, in words."""
    if row.outcome != "answered":
        return OUTCOME_WORDS[row.outcome]
    reasons = [REASONS.get(r, r).lower() for r in row.reasons]
    return "👎 " + (", ".join(dict.fromkeys(reasons)) if reasons else "no reason given")


def summary_line(report: GapsReport) -> str:
    rows = report.rows
    if not rows:
        return f"No unanswered or 👎 questions in the last {report.days} days."
    unanswered = sum(1 for r in rows if r.outcome != "answered")
    disliked = len(rows) - unanswered
    reasons = Counter(REASONS.get(c, c).lower() for r in rows for c in dict.fromkeys(r.reasons))
    parts = [f"{unanswered} without a confident answer"] if unanswered else []
    if disliked:
        detail = ", ".join(f"{n} {what}" for what, n in reasons.most_common())
        parts.append(f"{disliked} answered but 👎" + (f" ({detail})" if detail else ""))
    topics = len(report.topics)
    return (
        f"{len(rows)} question{'s' if len(rows) != 1 else ''} in the last {report.days} days: "
        + "; ".join(parts)
        + f". {topics} topic{'s' if topics != 1 else ''}, largest first."
    )


def topic_name(topic: Topic) -> str:
    return ", ".join(topic.keywords) or "(no common words)"


def report_lines(report: GapsReport) -> list[str]:
    """The message: a summary, then each topic with its count and example questions."""
    lines = [summary_line(report)]
    for n, topic in enumerate(report.topics[:TOPICS_SHOWN], 1):
        rows = [report.rows[i] for i in topic.members]
        kinds = Counter("unanswered" if r.outcome != "answered" else "👎" for r in rows)
        counts = ", ".join(f"{c} {k}" for k, c in kinds.most_common())
        lines.append("")
        lines.append(
            f"{n}. {topic_name(topic)}: {topic.count} question{'s' if topic.count != 1 else ''} ({counts})"
        )
        lines.extend(f"   • “{r.question}” ({row_kind(r)})" for r in rows[:EXAMPLES])
    rest = len(report.topics) - TOPICS_SHOWN
    if rest > 0:
        lines.append("")
        lines.append(f"…and {rest} smaller topic{'s' if rest != 1 else ''}: see the CSV file.")
    return lines


def report_csv(report: GapsReport) -> str:
    """Every question of the report, one row each, grouped by topic."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for n, topic in enumerate(report.topics, 1):
        for i in topic.members:
            r = report.rows[i]
            writer.writerow(
                [
                    n,
                    topic_name(topic),
                    datetime.fromtimestamp(r.asked_at, UTC).strftime("%Y-%m-%d %H:%M"),
                    r.question,
                    OUTCOME_WORDS[r.outcome],
                    "; ".join(REASONS.get(c, c) for c in r.reasons) or ("👎" if r.downs else ""),
                    "; ".join(f"{q.briefing_id} ¶{q.paragraph}" for q in r.shown),
                    r.index_version,
                ]
            )
    return out.getvalue()


def gather(
    store: FeedbackStore,
    embedder: Embedder,
    days: int,
    *,
    include_private: bool,
    may_see: Callable[[Sequence[str]], bool],
    now: float | None = None,
) -> GapsReport:
    """The report for the last ``days`` days: the store's gap rows, grouped by clustering their
    question vectors. Blocking (SQLite and the model): call from a worker thread."""
    since = (store.now() if now is None else now) - days * 86400
    rows = store.gaps(since, include_private=include_private, may_see=may_see)
    texts = [r.question for r in rows]
    topics = group_questions(texts, embedder.encode(texts)) if rows else []
    return GapsReport(rows, topics, days)

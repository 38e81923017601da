"""Answers, reports and status -> what a person reads. Pure functions, no I/O.

Quotes are shown verbatim; the only additions are attribution lines and, where the medium
has formatting, emphasis around the sentence that best answers (never a changed character).
The console uses the plain-text functions; the Discord bot builds embeds from the same parts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from index.audience import describe
from index.controls import visible, visible_line
from index.models import Answer, Attribution, BriefingMeta, Quote, ReindexReport
from index.service import Status

STRENGTH_LABEL = {"strong": "Strong match", "weak": "Weak match"}
ABSTAIN_HEADER = "No confident answer in the briefings."
WEAK_INTRO = "The closest passages are shown below as weak matches; they may not answer the question."
NOTHING = "Nothing in the briefings matches this question."


def attribution_line(a: Attribution) -> str:
    """``Title (date), section, ¶ n — source``."""
    parts = [f"{a.title} ({a.date_label})"]
    if a.section:
        parts.append(a.section)
    parts.append(f"¶ {a.paragraph_label}")
    line = ", ".join(parts)
    if a.source:
        line += f" — {a.source}"
    return line


def also_in_item(o: Attribution) -> str:
    """One "Also in" entry: where else a quoted paragraph stands."""
    return f"{o.title} ({o.date_label}), ¶ {o.paragraph_label}"


def also_in_text(items: Sequence[str]) -> str | None:
    return "Also in: " + "; ".join(items) if items else None


def also_in_line(q: Quote) -> str | None:
    return also_in_text([also_in_item(o) for o in q.also_in])


ABSTAIN_MAX_QUOTES = 3  # weak matches shown when there is no confident answer


def shown_quotes(answer: Answer) -> list[Quote]:
    """The quotes a person sees: all of a confident answer, the closest few of an abstention."""
    return answer.quotes[:ABSTAIN_MAX_QUOTES] if answer.abstained else answer.quotes


def answer_header(answer: Answer) -> str:
    if not answer.quotes:
        return NOTHING
    if answer.abstained:
        return f"{ABSTAIN_HEADER} {WEAK_INTRO}"
    strong = sum(1 for q in answer.quotes if q.strength == "strong")
    return f"From the briefings: {strong} matching passage{'s' if strong != 1 else ''}."


def emphasis_span(text: str, span: tuple[int, int] | None) -> tuple[int, int] | None:
    """Where emphasis goes for the best sentence ``span``: inside its surrounding whitespace (so
    Markdown emphasis applies), or None when there is nothing to emphasise."""
    if span is None:
        return None
    s, e = span
    if not (0 <= s < e <= len(text)):
        return None
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return (s, e) if s < e else None


_BOLD, _PLAIN = "\033[1m", "\033[0m"
_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def quote_lines(q: Quote, *, emphasis: bool = False) -> list[str]:
    """A quote's lines for a terminal: control characters shown visibly (an ESC in a briefing
    never reaches the terminal raw), the best sentence in bold when ``emphasis``."""
    span = emphasis_span(q.text, q.highlight) if emphasis else None
    parts = (
        [(q.text, False)]
        if span is None
        else [
            (q.text[: span[0]], False),
            (q.text[span[0] : span[1]], True),
            (q.text[span[1] :], False),
        ]
    )
    lines = [""]
    for text, bold in parts:
        for n, piece in enumerate(_LINE_BREAK.split(text)):
            if n:
                lines.append("")
            if piece:
                lines[-1] += f"{_BOLD}{visible(piece)}{_PLAIN}" if bold else visible(piece)
    return lines


def to_text(answer: Answer, *, emphasis: bool = False) -> str:
    """The console rendering of an answer, safe to print to a terminal as it is."""
    lines = [visible(answer_header(answer))]
    lines.extend(visible(note) for note in answer.notes)
    for i, q in enumerate(shown_quotes(answer), 1):
        lines.append("")
        lines.append(f"[{i}] {STRENGTH_LABEL[q.strength]}")
        for text_line in quote_lines(q, emphasis=emphasis):
            lines.append(f"    {text_line}")
        lines.append(f"    — {visible_line(attribution_line(q.attribution))}")
        if q.attribution.url:
            lines.append(f"      {visible_line(q.attribution.url)}")
        also = also_in_line(q)
        if also:
            lines.append(f"      {visible_line(also)}")
    return "\n".join(lines)


REPORT_SHOWN_ITEMS = 20  # skipped files and warnings listed; the rest are counted


def report_lines(report: ReindexReport) -> list[str]:
    """A reindex report, one fact a line (long lists shortened, with how many more)."""
    if report.rolled_back:
        return [
            f"Rolled back from {report.previous_version} to {report.version}.",
            f"{report.briefings_total} briefings, {report.passages_total} passages live.",
            *_check_lines(report),
        ]
    if report.refused:
        lines = [
            f"Not published: {report.refused}.",
            f"The live version ({report.version or 'none yet'}) is unchanged: "
            f"{report.briefings_total} briefings, {report.passages_total} passages.",
            f"It would have: {len(report.briefings_added)} added, {len(report.briefings_changed)} changed, "
            f"{len(report.briefings_removed) + report.omitted.get('briefings_removed', 0)} removed.",
        ]
        removed = report.briefings_removed
        if removed and report.refused_kind == "shrink":
            lines.append("Would be removed:")
            lines.extend(f"  - {bid}" for bid in removed[:REPORT_SHOWN_ITEMS])
            lines.extend(
                _more(len(removed) - REPORT_SHOWN_ITEMS + report.omitted.get("briefings_removed", 0))
            )
        return [*lines, *_problem_lines(report)]
    if not report.changed:
        head = f"Index already up to date ({report.version}); checked in {report.seconds:.1f} s."
    else:
        head = f"Index version {report.version} is live ({report.seconds:.1f} s)."
    lines = [head]
    if report.full_rebuild and report.changed:
        lines.append(f"Full rebuild: {report.rebuild_reason}.")
    lines.append(
        f"Briefings: {len(report.briefings_added)} added, {len(report.briefings_changed)} changed, "
        f"{len(report.briefings_removed)} removed; {report.briefings_total} in the index."
    )
    lines.append(
        f"Passages: {report.passages_added} added ({report.passages_embedded} embedded), "
        f"{report.passages_removed} removed; {report.passages_total} in the index."
    )
    lines.extend(_problem_lines(report))
    lines.extend(_check_lines(report))
    return lines


def _more(n: int) -> list[str]:
    return [f"  … and {n} more"] if n > 0 else []


def _problem_lines(report: ReindexReport) -> list[str]:
    lines: list[str] = []
    skipped = len(report.skipped) + report.omitted.get("skipped", 0)
    if skipped:
        lines.append(f"Skipped {skipped} file{'s' if skipped != 1 else ''}:")
        lines.extend(f"  - {s.path}: {s.reason}" for s in report.skipped[:REPORT_SHOWN_ITEMS])
        lines.extend(_more(skipped - min(len(report.skipped), REPORT_SHOWN_ITEMS)))
    warnings = len(report.warnings) + report.omitted.get("warnings", 0)
    if warnings:
        lines.append("Warnings:")
        lines.extend(f"  - {w}" for w in report.warnings[:REPORT_SHOWN_ITEMS])
        lines.extend(_more(warnings - min(len(report.warnings), REPORT_SHOWN_ITEMS)))
    return lines


def _check_lines(report: ReindexReport) -> list[str]:
    if not report.check_changes:
        return []
    out = ["Check questions whose top passage changed:"]
    for c in report.check_changes:
        verdict = "ok" if c.get("ok_after") else "now misses its expected briefing"
        out.append(
            f"  - {c['question']}: {c.get('before') or 'none'} -> {c.get('after') or 'none'} ({verdict})"
        )
    return out


def report_text(report: ReindexReport) -> str:
    return "\n".join(report_lines(report))


def status_lines(status: Status) -> list[str]:
    lines: list[str] = []
    if status.version is None:
        lines.append("No index yet. Run a reindex to build one.")
    else:
        lines.append(f"Index version {status.version}, built {status.built_at}.")
        lines.append(f"{status.briefings} briefings, {status.passages} passages.")
        lines.append(f"Model {status.model} ({status.dim} dimensions); chunker {status.chunker}.")
    lines.append(f"Corpus folder: {status.corpus_dir}; index folder: {status.index_dir}.")
    if status.reindex_running:
        holder = status.reindex_holder
        who = holder.get("who") or f"process {holder.get('pid', '?')}"
        lines.append(f"A reindex is running ({who}, since {holder.get('since', '?')}).")
    if status.last_report is not None:
        lines.append("Last reindex:")
        lines.extend(f"  {line}" for line in report_lines(status.last_report))
    for problem in status.problems:
        lines.append(f"Problem: {problem}")
    return lines


def status_text(status: Status) -> str:
    return "\n".join(status_lines(status))


def briefing_line(meta: BriefingMeta) -> str:
    extra = "" if meta.is_public else f" [audience: {describe(meta.audience)}]"
    return f"{meta.title} ({meta.date_label}) — {meta.path}{extra}"


def briefings_text(metas: Sequence[BriefingMeta]) -> str:
    if not metas:
        return "No briefings are indexed."
    return "\n".join(briefing_line(m) for m in metas)


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_json(data: Any, **kwargs: Any) -> str:
    """JSON for a terminal: ``json.dumps`` escapes C0 controls; C1 controls and bidirectional
    overrides are escaped too (still valid JSON, the same data)."""
    text = json.dumps(data, ensure_ascii=False, **kwargs)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

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
from index.whatsnew import Digest, DigestItem

STRENGTH_LABEL = {"strong": "Strong match", "weak": "Weak match"}
ABSTAIN_HEADER = "No confident answer in the briefings."
WEAK_INTRO = "The closest passages are shown below as weak matches; they may not answer the question."
NOTHING = "Nothing in the briefings matches this question."


def attribution_line(a: Attribution) -> str:
    """``Title (date), section, p. 3, ¶ n — source`` (the page for PDF briefings)."""
    parts = [f"{a.title} ({a.when_label})"]
    if a.section:
        parts.append(a.section)
    parts.append(paragraph_ref(a.paragraph_label, a.page))
    line = ", ".join(parts)
    if a.source:
        line += f" — {a.source}"
    return line


def paragraph_ref(label: str, page: int | None) -> str:
    """``¶ 4``, or ``p. 3, ¶ 4`` when the briefing has pages."""
    return f"p. {page}, ¶ {label}" if page else f"¶ {label}"


def also_in_item(o: Attribution) -> str:
    """One "Also in" entry: where else a quoted paragraph stands."""
    return f"{o.title} ({o.when_label}), {paragraph_ref(o.paragraph_label, o.page)}"


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


def more_header(answer: Answer) -> str:
    """The header of a "More passages" page: how many, and how many of them are strong."""
    strong = sum(1 for q in answer.quotes if q.strength == "strong")
    weak = len(answer.quotes) - strong
    parts = [f"{n} {band}" for n, band in ((strong, "strong"), (weak, "weak")) if n]
    if weak and not strong:
        return f"{len(answer.quotes)} more passage{'s' if weak != 1 else ''}, all weak matches: they may not answer the question."
    return f"{len(answer.quotes)} more passage{'s' if len(answer.quotes) != 1 else ''}: {', '.join(parts)}."


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


def highlighted(text: str, span: tuple[int, int] | None, open_mark: str, close_mark: str) -> str:
    """``text`` with the best sentence wrapped in marks; the characters themselves unchanged."""
    marked = emphasis_span(text, span)
    if marked is None:
        return text
    s, e = marked
    return text[:s] + open_mark + text[s:e] + close_mark + text[e:]


_BOLD, _PLAIN = "\033[1m", "\033[0m"
_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def quote_lines(q: Quote, *, emphasis: bool = False) -> list[str]:
    """A quote's lines for a terminal: control characters shown visibly (an ESC in a briefing
    never reaches the terminal raw), the best sentence in bold when ``emphasis``."""
    span = emphasis_span(q.text, q.highlight) if emphasis else None
    parts = (
        [(q.text, False)]
        if span is None
        else [(q.text[: span[0]], False), (q.text[span[0] : span[1]], True), (q.text[span[1] :], False)]
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
    """A reindex report in words that say what it did: nothing, an update, a full rebuild, a
    rollback, or why it published nothing (long lists shortened, with how many more)."""
    if report.refused:
        return _refused_lines(report)
    if report.rolled_back:
        lines = [
            f"Rolled back to the index {version_label(report.version)} "
            f"({report.briefings_total} briefings, {report.passages_total} passages).",
            f"The index {version_label(report.previous_version)} is kept: roll back to it to undo this.",
        ]
    elif not report.changed:
        lines = [
            "Nothing to update: the index already matches the corpus folder "
            f"({report.briefings_total} briefings, {report.passages_total} passages; checked in {report.seconds:.1f} s)."
        ]
    elif report.full_rebuild and report.previous_version is None:
        lines = [
            f"Built the index in {report.seconds:.1f} s: read {report.briefings_total} briefings "
            f"and embedded {report.passages_embedded} passages."
        ]
    elif report.full_rebuild:
        lines = [
            f"Rebuilt the whole index ({_rebuild_words(report.rebuild_reason)}) in {report.seconds:.1f} s: "
            f"read {report.briefings_total} briefings and embedded all {report.passages_embedded} passages again.",
        ]
    else:
        lines = [
            f"Updated the index in {report.seconds:.1f} s.",
            f"Briefings: {len(report.briefings_added)} added, {len(report.briefings_changed)} changed, "
            f"{len(report.briefings_removed)} removed; {report.briefings_total} now.",
            f"Passages: {report.passages_added} added, {report.passages_removed} removed; "
            f"{report.passages_embedded} embedded (the others kept their vectors); {report.passages_total} now.",
        ]
    if report.changed and not report.rolled_back:
        for what, ids in (
            ("Added", report.briefings_added if not report.full_rebuild else []),
            ("Changed", report.briefings_changed),
            ("Removed", report.briefings_removed),
        ):
            if ids:
                shown = ", ".join(ids[:NAMES_SHOWN]) + (
                    f" and {len(ids) - NAMES_SHOWN} more" if len(ids) > NAMES_SHOWN else ""
                )
                lines.append(f"{what}: {shown}.")
    if len(report.formats) > 1 or set(report.formats) - {"markdown", "text"}:
        lines.append("By format: " + "; ".join(format_line(f, c) for f, c in report.formats.items()) + ".")
    lines.extend(_problem_lines(report))
    lines.extend(_check_lines(report))
    return lines


def _refused_lines(report: ReindexReport) -> list[str]:
    removed = len(report.briefings_removed) + report.omitted.get("briefings_removed", 0)
    lines = [
        f"Not published: {report.refused}.",
        f"The live index ({version_label(report.version) if report.version else 'none yet'}) is unchanged: "
        f"{report.briefings_total} briefings, {report.passages_total} passages.",
        f"It would have: {len(report.briefings_added)} added, {len(report.briefings_changed)} changed, "
        f"{removed} removed.",
    ]
    if report.briefings_removed and report.refused_kind == "shrink":
        lines.append("Would be removed:")
        lines.extend(f"  - {bid}" for bid in report.briefings_removed[:REPORT_SHOWN_ITEMS])
        lines.extend(_more(removed - min(len(report.briefings_removed), REPORT_SHOWN_ITEMS)))
    return [*lines, *_problem_lines(report)]


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


NAMES_SHOWN = 10
_REBUILD_WORDS = {
    "full rebuild requested": "as asked",
    "no usable index yet": "there was no usable index",
}
_VERSION_ID = re.compile(r"v(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\d*-[0-9a-f]+")


def _rebuild_words(reason: str | None) -> str:
    if not reason:
        return "as asked"
    return _REBUILD_WORDS.get(reason, f"because {reason}" if not reason.startswith("because") else reason)


def version_label(version: str | None) -> str:
    """``built 2025-03-01 10:22 UTC`` for an index version id (ids start with their UTC time)."""
    if not version:
        return "(none)"
    m = _VERSION_ID.fullmatch(version)
    if not m:
        return version
    y, mo, d, h, mi, sec = m.groups()
    return f"built {y}-{mo}-{d} {h}:{mi}:{sec} UTC"


def when_built(stamp: str | None) -> str:
    """``2025-03-01 10:22:05 UTC`` for a manifest's ISO time (seconds: versions built within a
    minute of each other must read differently)."""
    if not stamp:
        return "at an unknown time"
    return stamp.replace("T", " ").rstrip("Z")[:19] + " UTC"


def chunker_words(signature: str | None) -> str:
    """The passage rules an index was built with, in words (the manifest stores a code)."""
    parts = (signature or "").split(":")
    try:
        max_tokens, min_words, group_words = int(parts[1]), int(parts[3]), int(parts[4])
    except (IndexError, ValueError):
        return f"passage rules {signature or 'unknown'}"
    words = (
        f"passages of up to {max_tokens} word pieces (longer paragraphs split at sentence ends), "
        f"paragraphs under {min_words} words joined to a neighbour, short ones grouped to about "
        f"{group_words} words"
    )
    if "s2" in parts[5:]:
        words += ", and every sentence also indexed on its own"
    return words


FORMAT_NAMES = {
    "pdf": "PDF",
    "docx": "Word",
    "html": "HTML",
    "eml": "e-mail",
    "markdown": "Markdown",
    "text": "text",
}


def format_line(fmt: str, counts: dict[str, int]) -> str:
    """``PDF: 13 files, 9 briefings indexed, 2 skipped``."""
    files = counts.get("files", 0)
    line = f"{FORMAT_NAMES.get(fmt, fmt)}: {files} file{'s' if files != 1 else ''}, {counts.get('briefings', 0)} indexed"
    if counts.get("skipped"):
        line += f", {counts['skipped']} skipped"
    return line


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
    """What is indexed and how, in plain words."""
    lines: list[str] = []
    if status.version is None:
        lines.append("No index yet. Run a reindex to build one.")
    else:
        lines.append(
            f"{status.briefings} briefings, {status.passages} passages; index {version_label(status.version)}."
        )
        lines.append(f"Model {status.model} ({status.dim} dimensions); {chunker_words(status.chunker)}.")
        if status.outdated:
            lines.append(
                f"This version of briefbot will rebuild the index at its next start: {status.outdated}."
            )
        kept = len(status.versions) - 1
        if kept > 0:
            lines.append(f"{kept} older version{'s' if kept != 1 else ''} kept for rollback.")
    where = "index" if status.index_dir.startswith("postgresql://") else "index folder"
    lines.append(f"Corpus folder: {status.corpus_dir}; {where}: {status.index_dir}.")
    if status.reindex_running:
        holder = status.reindex_holder
        who = holder.get("who") or f"process {holder.get('pid', '?')}"
        lines.append(f"A reindex is running ({who}, since {when_built(holder.get('since'))}).")
    if status.last_report is not None:
        lines.append(f"Last reindex ({when_built(status.last_report.finished_at)}):")
        lines.extend(f"  {line}" for line in report_lines(status.last_report))
    for problem in status.problems:
        lines.append(f"Problem: {problem}")
    return lines


def status_text(status: Status) -> str:
    return "\n".join(status_lines(status))


def briefing_line(meta: BriefingMeta) -> str:
    extra = "" if meta.is_public else f" [audience: {describe(meta.audience)}]"
    return f"{meta.title} ({meta.when_label}) — {meta.path}{extra}"


def briefings_text(metas: Sequence[BriefingMeta]) -> str:
    if not metas:
        return "No briefings are indexed."
    return "\n".join(briefing_line(m) for m in metas)


def digest_header(digest: Digest) -> str:
    if not digest.items:
        return "No briefings are indexed yet."
    n = len(digest.items)
    return f"The {n} newest briefing{'s' if n != 1 else ''}, with their key takeaways (quoted):"


def digest_source_line(item: DigestItem) -> str:
    """``Title (date), section, ¶ 1–3 — source`` for the takeaways quoted from one briefing."""
    meta, quoted = item.meta, item.takeaways
    parts = [f"{meta.title} ({meta.when_label})"]
    if quoted and quoted[0].section:
        parts.append(quoted[0].section_label)
    if quoted:
        first, last = quoted[0].paragraph, quoted[-1].paragraph_end
        parts.append(f"¶ {first}" if first == last else f"¶ {first}–{last}")
    line = ", ".join(parts)
    return line + (f" — {meta.source}" if meta.source else "")


def digest_text(digest: Digest) -> str:
    """The console rendering of a digest."""
    lines = [digest_header(digest), *digest.notes]
    for i, item in enumerate(digest.items, 1):
        lines.append("")
        lines.append(f"[{i}] {item.meta.title} ({item.meta.when_label})")
        for p in item.takeaways:
            lines.extend(f"    {line}" for line in p.text.splitlines())
        lines.append(f"    — {digest_source_line(item)}")
    return "\n".join(lines)


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_json(data: Any, **kwargs: Any) -> str:
    """JSON for a terminal: ``json.dumps`` escapes C0 controls; C1 controls and bidirectional
    overrides are escaped too (still valid JSON, the same data)."""
    text = json.dumps(data, ensure_ascii=False, **kwargs)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

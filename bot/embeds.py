"""Answers, passages and reports -> Discord messages (content + embeds) within Discord's limits.

The words come from ``bot.render``; this module only fits them into embeds. Quoted text is
shown verbatim: every Markdown-significant character is backslash-escaped (Discord then shows
it as typed), the best sentence is wrapped in ``**`` without changing a character, and a
passage too long for its share of the message is cut at a sentence boundary with a visible
"(trimmed)" marker. Lengths are counted in UTF-16 code units, as Discord counts them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

import discord

from bot import render
from bot.progress import STAGE_LABEL
from index.models import Answer, BriefingMeta, Passage, Quote, ReindexReport
from index.service import Status
from index.whatsnew import Digest

# Discord's limits for one message.
CONTENT_MAX = 2000
EMBEDS_MAX = 10
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
TOTAL_MAX = 6000  # titles, descriptions, field names and values, footers of all embeds together
URL_MAX = 2048

ALSO_IN = "Also in"
TRIMMED = "(trimmed)"
TAIL_MARK = " … " + TRIMMED
HEAD_MARK = TRIMMED + " … "
MIN_BODY = 300  # a quote that cannot get this much room is left for "More passages"
BRIEFINGS_PER_PAGE = 10
FULL_PASSAGE_MAX_MESSAGES = 5

STRONG_COLOUR = discord.Colour.green()
WEAK_COLOUR = discord.Colour.light_grey()
CONTEXT_COLOUR = discord.Colour.blurple()
REPORT_COLOUR = discord.Colour.dark_teal()

_URL = re.compile(r"https?://[^\s<>]+")
_ALWAYS = re.compile(r"[\\*_~|`<\[]|@(?=everyone|here)")
_LINE_MARK = re.compile(r"^([ \t]*)([-+>#])", re.MULTILINE)
_LINE_NUMBER = re.compile(r"^([ \t]*\d{1,9})([.)])", re.MULTILINE)
_SENTENCE_END = re.compile(r"[.!?…。！？]+[\"'”’)\]»]*\s+|\n+")
_SPACE = re.compile(r"\s+")


def dlen(text: str) -> int:
    """Length as Discord counts it (UTF-16 code units: an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """``text`` escaped so Discord displays every character as written (links left clickable)."""
    out: list[str] = []
    pos = 0
    for m in _URL.finditer(text):
        out.append(_escape_plain(text[pos : m.start()]))
        out.append(m.group())
        pos = m.end()
    out.append(_escape_plain(text[pos:]))
    return "".join(out)


def _escape_plain(text: str) -> str:
    text = _ALWAYS.sub(lambda m: "\\" + m.group(), text)
    text = _LINE_MARK.sub(r"\1\\\2", text)
    return _LINE_NUMBER.sub(r"\1\\\2", text)


def clip(raw: str, limit: int) -> str:
    """``raw`` escaped, shortened with "…" if its escaped form would exceed ``limit``."""
    if len(raw) <= limit:
        full = escape(raw)
        if dlen(full) <= limit:
            return full
    # Escaping never shortens, so only the first ``limit`` characters can be kept.
    lo, hi = 0, min(len(raw), limit)
    while lo < hi:  # the longest prefix whose escaped form plus "…" fits
        mid = (lo + hi + 1) // 2
        if dlen(escape(raw[:mid])) + 1 <= limit:
            lo = mid
        else:
            hi = mid - 1
    return escape(raw[:lo].rstrip()) + "…"


def safe_url(url: str | None) -> str | None:
    """A URL Discord accepts for a link, or None (front matter may hold anything)."""
    if url and len(url) <= URL_MAX and _URL.fullmatch(url):
        return url
    return None


# ---------------------------------------------------------------------------- quote bodies


def _rendered(text: str, span: tuple[int, int] | None) -> str:
    """``text`` escaped, with the best sentence in bold. The three parts are escaped apart, so
    nothing in the text itself can be taken for the bold marks."""
    marked = render.emphasis_span(text, span)
    if marked is None:
        return escape(text)
    s, e = marked
    return escape(text[:s]) + "**" + escape(text[s:e]) + "**" + escape(text[e:])


def _cut_candidates(text: str, start: int, stop: int) -> Iterator[Sequence[int]]:
    """Where an excerpt from ``start`` may end, before ``stop``, best first: after a sentence,
    after a word, anywhere (ascending offsets, the end of the text excluded). Only the window up
    to ``stop`` is read, so paging a long text stays linear."""
    end = min(stop, len(text))
    yield [m.end() for m in _SENTENCE_END.finditer(text, start, end) if m.end() < end]
    yield [m.end() for m in _SPACE.finditer(text, start, end) if m.end() < end]
    yield range(start + 1, end)


def _last_cut(text: str, start: int, limit: int, fits: Callable[[int], bool]) -> int | None:
    """The furthest cut point after ``start`` for which ``fits`` holds (it must be monotone).

    An excerpt renders at least as long as it is, so no cut beyond ``start + limit`` can fit."""
    for points in _cut_candidates(text, start, start + limit + 1):
        lo, hi, best = 0, len(points) - 1, None
        while lo <= hi:  # a longer excerpt never renders shorter: binary search
            mid = (lo + hi) // 2
            if fits(points[mid]):
                best, lo = points[mid], mid + 1
            else:
                hi = mid - 1
        if best is not None:
            return best
    return None


def fit_text(text: str, limit: int, highlight: tuple[int, int] | None = None) -> tuple[str, bool]:
    """``text`` rendered (escaped, best sentence in bold) within ``limit``; ``(body, trimmed)``.

    A long text is cut at a sentence boundary; when the best sentence would fall outside the
    first ``limit`` characters, the excerpt starts at that sentence instead.
    """
    if len(text) <= limit:
        full = _rendered(text, highlight)
        if dlen(full) <= limit:
            return full, False
    start = 0
    if highlight is not None and (
        highlight[1] > limit or dlen(escape(text[: highlight[1]])) + len(TAIL_MARK) > limit
    ):
        start = highlight[0]
    head = HEAD_MARK if start else ""

    def body(end: int) -> str:
        shown = text[start:end].rstrip()
        span = None
        if highlight is not None:
            s, e = max(highlight[0], start) - start, min(highlight[1], start + len(shown)) - start
            span = (s, e) if s < e else None
        return head + _rendered(shown, span) + TAIL_MARK

    end = _last_cut(text, start, limit, lambda end: dlen(body(end)) <= limit)
    return body(end if end is not None else start + 1), True


def share_out(needs: Sequence[int], budget: int, cap: int = DESCRIPTION_MAX) -> list[int]:
    """Split ``budget`` between texts: short ones get all they need, long ones equal shares."""
    alloc = [0] * len(needs)
    pending = sorted(range(len(needs)), key=lambda i: needs[i])
    left = budget
    while pending:
        share = left // len(pending)
        i = pending[0]
        want = min(needs[i], cap)
        if want <= share:
            alloc[i] = want
            left -= want
            pending.pop(0)
            continue
        for j in pending:
            alloc[j] = min(share, cap)
        break
    return alloc


def embed_size(embed: discord.Embed) -> int:
    """The characters of ``embed`` that count towards the 6000 limit."""
    n = dlen(embed.title or "") + dlen(embed.description or "")
    n += sum(dlen(f.name or "") + dlen(f.value or "") for f in embed.fields)
    n += dlen(embed.footer.text or "") + dlen(embed.author.name or "")
    return n


def _fill_bodies(
    skeletons: list[discord.Embed], texts: list[str], highlights: list[tuple[int, int] | None]
) -> tuple[list[discord.Embed], list[bool]]:
    """Give each skeleton embed its text as description, sharing the 6000-character budget.

    Lower-ranked embeds are dropped when the ones before them leave too little room.
    """
    n = len(skeletons)
    while n and sum(embed_size(e) for e in skeletons[:n]) + MIN_BODY * n > TOTAL_MAX - 16:
        n -= 1
    skeletons = skeletons[:n]
    # A text longer than one description cannot fit whole: no need to render it all to know.
    needs = [
        DESCRIPTION_MAX + 1 if len(t) > DESCRIPTION_MAX else dlen(_rendered(t, h))
        for t, h in zip(texts, highlights, strict=False)
    ][:n]
    budget = TOTAL_MAX - 16 - sum(embed_size(e) for e in skeletons)
    trimmed: list[bool] = []
    for embed, text, span, room in zip(skeletons, texts, highlights, share_out(needs, budget), strict=False):
        embed.description, cut = fit_text(text, room, span)
        trimmed.append(cut)
    return skeletons, trimmed


# ---------------------------------------------------------------------------- answers


@dataclass
class AnswerMessage:
    """One answer as a Discord message, and which quotes it shows."""

    content: str
    embeds: list[discord.Embed]
    quotes: list[Quote] = field(default_factory=list)
    trimmed: list[bool] = field(default_factory=list)


def answer_message(
    answer: Answer, *, first_number: int = 1, heading: str | None = None, more: bool = False
) -> AnswerMessage:
    """The answer as content (header, notes) and one embed a quote, the best first; ``more``
    for a further page of passages (all shown, with a header counting them)."""
    lines = [heading] if heading else []
    lines.append(render.more_header(answer) if more else render.answer_header(answer))
    lines.extend(answer.notes)
    content = clip("\n".join(lines), CONTENT_MAX)
    quotes = (answer.quotes if more else render.shown_quotes(answer))[:EMBEDS_MAX]
    skeletons = [_quote_skeleton(q, first_number + i) for i, q in enumerate(quotes)]
    embeds, trimmed = _fill_bodies(skeletons, [q.text for q in quotes], [q.highlight for q in quotes])
    return AnswerMessage(content, embeds, quotes[: len(embeds)], trimmed)


def _quote_skeleton(q: Quote, number: int) -> discord.Embed:
    strong = q.strength == "strong"
    embed = discord.Embed(
        title=f"{number}. {render.STRENGTH_LABEL[q.strength]}",
        colour=STRONG_COLOUR if strong else WEAK_COLOUR,
        url=safe_url(q.attribution.url),
    )
    source = render.attribution_line(q.attribution)
    url = safe_url(q.attribution.url)
    if url and dlen(url) < FIELD_VALUE_MAX // 2:
        value = clip(source, FIELD_VALUE_MAX - dlen(url) - 1) + "\n" + url
    else:
        value = clip(source, FIELD_VALUE_MAX)
    embed.add_field(name="Source", value=value, inline=False)
    also = render.also_in_line(q)
    if also:
        embed.add_field(name=ALSO_IN, value=clip(also, FIELD_VALUE_MAX), inline=False)
    if not strong:
        embed.set_footer(text="Weak match: it may not answer the question.")
    return embed


def with_also_in(embed: discord.Embed, items: Sequence[str]) -> discord.Embed:
    """A copy of a quote's embed whose "Also in" field lists only ``items`` (none: no field)."""
    out = embed.copy()
    for i in reversed(range(len(out.fields))):
        if out.fields[i].name == ALSO_IN:
            out.remove_field(i)
    also = render.also_in_text(items)
    if also:
        out.insert_field_at(1, name=ALSO_IN, value=clip(also, FIELD_VALUE_MAX), inline=False)
    return out


def digest_message(digest: Digest) -> AnswerMessage:
    """The newest briefings: one embed each, its key takeaways verbatim, newest first."""
    lines = [render.digest_header(digest), *digest.notes]
    content = clip("\n".join(lines), CONTENT_MAX)
    items = digest.items[:EMBEDS_MAX]
    skeletons: list[discord.Embed] = []
    for i, item in enumerate(items, 1):
        meta = item.meta
        embed = discord.Embed(
            title=f"{i}. " + clip(meta.title, TITLE_MAX - 6), colour=STRONG_COLOUR, url=safe_url(meta.url)
        )
        embed.add_field(
            name="Source", value=clip(render.digest_source_line(item), FIELD_VALUE_MAX), inline=False
        )
        skeletons.append(embed)
    texts = ["\n".join(p.text for p in item.takeaways) for item in items]
    embeds, trimmed = _fill_bodies(skeletons, texts, [None] * len(texts))
    return AnswerMessage(content, embeds, [], trimmed)


# ---------------------------------------------------------------------------- passages


def context_message(
    passages: Sequence[Passage], quoted_id: str, meta: BriefingMeta | None, note: str | None = None
) -> AnswerMessage:
    """The quoted paragraph with its neighbours, each an embed; the quoted one marked."""
    skeletons: list[discord.Embed] = []
    for p in passages:
        quoted = p.passage_id == quoted_id
        title = render.paragraph_ref(p.paragraph_label, p.page) + (" (the quoted passage)" if quoted else "")
        if p.section:
            title += f" · {p.section_label}"
        skeletons.append(
            discord.Embed(title=clip(title, TITLE_MAX), colour=CONTEXT_COLOUR if quoted else WEAK_COLOUR)
        )
    embeds, trimmed = _fill_bodies(skeletons, [p.text for p in passages], [None] * len(passages))
    heading = "Context"
    if meta is not None:
        heading += f": {meta.title} ({meta.when_label}) — {meta.path}"
    if note:
        heading += f"\n{note}"
    return AnswerMessage(clip(heading, CONTENT_MAX), embeds, [], trimmed)


def _escaped_fits(text: str, start: int, limit: int, end: int) -> bool:
    return dlen(escape(text[start:end])) <= limit


def full_passage_pages(
    text: str, limit: int = DESCRIPTION_MAX - 96, max_pages: int | None = None
) -> list[str]:
    """A whole passage, escaped, cut at sentence boundaries into descriptions of one embed each.

    Linear in the length of the text (each page reads only its own window); with ``max_pages``
    it stops after ``max_pages + 1`` pages, enough to know the passage is too long for messages.
    Blocking for long texts: call it in a thread."""
    pages: list[str] = []
    pos = 0
    while pos < len(text):
        if max_pages is not None and len(pages) > max_pages:
            break
        if len(text) - pos <= limit:
            rest = escape(text[pos:])
            if dlen(rest) <= limit:
                pages.append(rest)
                break
        end = _last_cut(text, pos, limit, partial(_escaped_fits, text, pos, limit)) or pos + 1
        pages.append(escape(text[pos:end]))
        pos = end
    return pages


# ---------------------------------------------------------------------------- moderation


def lines_embed(title: str, lines: Sequence[str], colour: discord.Colour = REPORT_COLOUR) -> discord.Embed:
    """Plain lines (a report, a status) as one embed, escaped and clipped to the limits."""
    return discord.Embed(
        title=clip(title, TITLE_MAX), description=clip("\n".join(lines), DESCRIPTION_MAX), colour=colour
    )


def report_embed(report: ReindexReport, who: str | None = None) -> discord.Embed:
    """A reindex (or rollback) report."""
    title = (
        "Rolled back"
        if report.rolled_back
        else "Reindex not published"
        if report.refused
        else "Reindex finished"
    )
    embed = lines_embed(title, render.report_lines(report))
    if who:
        embed.set_footer(text=clip(f"Started by {who}", FOOTER_MAX))
    return embed


def status_embed(status: Status) -> discord.Embed:
    """What is indexed, the model, and the last reindex."""
    return lines_embed("Briefbot status", render.status_lines(status))


def progress_text(stage: str, done: int, total: int) -> str:
    """One line of reindex progress."""
    label = STAGE_LABEL.get(stage, stage)
    if total > 0:
        return f"Reindexing… {label}: {done}/{total} ({100 * done // total}%)"
    return f"Reindexing… {label}"


def briefings_page(metas: Sequence[BriefingMeta], page: int) -> tuple[discord.Embed, int]:
    """One page of the briefing list and the number of pages."""
    pages = max(1, -(-len(metas) // BRIEFINGS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    chunk = metas[page * BRIEFINGS_PER_PAGE : (page + 1) * BRIEFINGS_PER_PAGE]
    lines = [render.briefing_line(m) for m in chunk] or [render.briefings_text([])]
    embed = lines_embed(f"Briefings ({len(metas)})", lines)
    embed.set_footer(text=f"Page {page + 1} of {pages}")
    return embed, pages

"""Briefing files -> metadata and quotable blocks with sections and exact character offsets.

Every block is a span of the decoded file text, so a quote is always ``text[start:end]``
and never a re-typed copy. Two body styles are understood: Markdown (``.md``) and plain
text as people write it (``.txt``): heading lines without final punctuation over long
paragraphs, bullet lists, optional blank lines.
"""

from __future__ import annotations

import bisect
import codecs
import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from markdown_it import MarkdownIt

from index.audience import read_audience
from index.formats import EXTRACTED_SUFFIXES, reader_for
from index.frontmatter import FrontMatterError, shown, split_front_matter
from index.models import Block, BriefingMeta
from index.titles import filename_title, readable_title

# Bump when what parsing produces (titles, blocks, dates) changes: the manifest records it, and
# an index built under another version is rebuilt in full.
PARSER_VERSION = "3"  # 3: audiences fail closed, front matter with limits, lone CR, UTF-16/32

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + EXTRACTED_SUFFIXES
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_TITLE_CHARS = 300  # a title is a line; a longer one is shortened (and reported)
MAX_SECTION_CHARS = 200  # the same for a heading, which every passage under it carries

# Headings that name a part of a briefing rather than the briefing itself.
GENERIC_HEADINGS = {
    "key takeaways",
    "takeaways",
    "summary",
    "overview",
    "background",
    "introduction",
    "highlights",
    "tl;dr",
    "wrap up",
    "wrap-up",
    "conclusion",
    "bottom line",
    "context",
}

_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_BULLET = re.compile(r"^[ \t]*(?:[-*+•–—▪◦●]|\(?\d{1,3}[.)]|\(?[a-z][.)])[ \t]+(?=\S)")
_MD_ITEM_MARKER = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]*")
_TERMINAL = tuple('.!?,;…"”’)]»')


class BriefingError(Exception):
    """A briefing that cannot be read; ``reason`` is meant for the person who wrote it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedDocument:
    meta: BriefingMeta
    text: str  # the file's text, or for PDF, Word, HTML and e-mail the extracted text
    blocks: tuple[Block, ...]
    pages: tuple[int, ...] = ()  # where each page starts in ``text`` (PDF); empty otherwise

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character ``offset``, or None for unpaged formats."""
        return bisect.bisect_right(self.pages, offset) or 1 if self.pages else None


def briefing_id_for(rel_path: str) -> str:
    """Stable id of a briefing: its corpus-relative path without the extension."""
    p = PurePosixPath(rel_path)
    return str(p.with_suffix("")) if p.suffix.lower() in SUPPORTED_SUFFIXES else str(p)


def is_briefing_file(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name.upper() in {"README.MD", "SAMPLES.MD", "LICENSE.MD", "CHANGELOG.MD"}:
        return False
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_file(rel_path: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> list[ParsedDocument]:
    """Every briefing in one file (an e-mail's attachments are briefings of their own).

    Text formats are parsed here; the others go to their reader in ``index.formats``. Runs
    in the caller's process: untrusted PDF, Word, HTML and e-mail files are read through
    ``index.formats.sandbox``, which calls this in a child process with limits.
    """
    suffix = PurePosixPath(rel_path).suffix.lower()
    if suffix in EXTRACTED_SUFFIXES:
        if len(data) > max_bytes:
            raise BriefingError(f"too large: {_mb(len(data))} (limit {_mb(max_bytes)})")
        return reader_for(suffix)(rel_path, data, max_bytes)
    return [parse_briefing(rel_path, data, max_bytes)]


def parse_briefing(rel_path: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedDocument:
    """Parse one briefing's bytes. Raises ``BriefingError`` with a human reason when unreadable."""
    if len(data) > max_bytes:
        raise BriefingError(f"too large: {_mb(len(data))} (limit {_mb(max_bytes)})")
    text = decode_text(data)
    if not text.strip():
        raise BriefingError("empty file")
    try:
        front, body_start = split_front_matter(text)
    except FrontMatterError as exc:
        raise BriefingError(f"front matter {exc}") from exc
    suffix = PurePosixPath(rel_path).suffix.lower()
    if suffix in (".md", ".markdown"):
        blocks, headings = _markdown_blocks(text, body_start)
    else:
        blocks, headings = _plain_blocks(text, body_start)
    if not blocks:
        raise BriefingError("no paragraphs found (only headings or front matter)")
    lead = text[blocks[0].start : blocks[0].end]
    meta = _build_meta(rel_path, data, front, headings, lead)
    if headings and headings[0][1] <= 1 and headings[0][0] == meta.title:
        # A leading title line ("# Title", or a lone first line) names the briefing; it is
        # not a section of it.
        blocks = [
            Block(b.start, b.end, b.section[1:], b.kind, b.paragraph) if b.section[:1] == (meta.title,) else b
            for b in blocks
        ]
    return ParsedDocument(meta=meta, text=text, blocks=tuple(blocks))


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode_text(data: bytes) -> str:
    """UTF-8 text, or UTF-16/UTF-32 with a byte order mark (the mark is dropped); binary data
    and other encodings are refused."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise BriefingError(
                    f"not valid {encoding.upper()} text (at byte {exc.start + len(bom)}); save the file as UTF-8"
                ) from exc
            return _check_text(text)
    if b"\x00" in data[:65536]:
        raise BriefingError("binary file (contains NUL bytes), not a text briefing")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise BriefingError(
            f"not UTF-8 text (byte 0x{bad:02x} at offset {exc.start}); save the file as UTF-8"
        ) from exc
    return _check_text(text)


def _check_text(text: str) -> str:
    sample = text[:20000]
    if "\x00" in sample:
        raise BriefingError("binary file (contains NUL characters), not a text briefing")
    controls = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if sample and controls / len(sample) > 0.01:
        raise BriefingError("binary file (control characters), not a text briefing")
    return text


def _build_meta(
    rel_path: str,
    data: bytes,
    front: dict[str, Any],
    headings: list[tuple[str, int]],
    lead: str = "",
) -> BriefingMeta:
    warns: list[str] = []
    name = PurePosixPath(rel_path).name
    title = _clean_str(front.get("title"))
    if not title and headings:
        first, level = headings[0]
        # Only a title-like first heading names the briefing: "# Title" or a lone first line.
        if level <= 1 and first.lower() not in GENERIC_HEADINGS:
            title = first
    if not title:
        title = readable_title(name, lead)
    if len(title) > MAX_TITLE_CHARS:
        warns.append(f"title of {len(title)} characters shortened to {MAX_TITLE_CHARS}")
        title = title[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    when: date | None = None
    if "date" in front and front["date"] not in (None, ""):
        when = _parse_date(front["date"])
        if when is None:
            warns.append(f"date {shown(front['date'])} not understood (use YYYY-MM-DD); shown as undated")
    if when is None and "date" not in front:
        when = date_from_filename(name)
    audience, problem = read_audience(front)
    if problem:
        warns.append(problem)
    url = _clean_str(front.get("url")) or None
    if url and (not re.match(r"^https?://", url) or len(url) > 2048):
        warns.append(f"url {shown(url)} ignored: only http(s) links (at most 2048 characters) are shown")
        url = None
    return BriefingMeta(
        briefing_id=briefing_id_for(rel_path),
        path=rel_path,
        title=title,
        date=when,
        source=_clean_str(front.get("source")) or None,
        url=url,
        tags=_str_tuple(front.get("tags")),
        audience=audience,
        sha256=sha256_bytes(data),
        size=len(data),
        warnings=tuple(warns),
    )


def title_from_filename(name: str) -> str:
    """The title a file name gives; a machine-made name ("000_457032d0") as it is on disk."""
    return filename_title(name) or PurePosixPath(name).stem


def date_from_filename(name: str) -> date | None:
    m = _DATE_IN_NAME.search(name)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?\s*", value)
        if m:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                return None
    return None


def _clean_str(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, (str, int, float, date)):
        return " ".join(str(value).split())
    return ""


def _str_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, (list, tuple, set)):
        items = [_clean_str(v) for v in value]
    else:
        items = [_clean_str(value)]
    return tuple(i for i in items if i)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


# --------------------------------------------------------------------------- Markdown


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _line_starts(text: str, start: int) -> list[int]:
    """Offsets where lines start, counting line breaks as markdown-it does (\\r\\n, \\r, \\n)."""
    starts = [start]
    starts.extend(m.end() for m in _LINE_BREAK.finditer(text, start))
    return starts


def _span(text: str, starts: list[int], first: int, last: int) -> tuple[int, int]:
    """Character span of lines [first, last) trimmed of surrounding whitespace."""
    s = starts[first]
    e = starts[last] if last < len(starts) else len(text)
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


@functools.cache
def _markdown() -> MarkdownIt:
    """One parser for every file (building it costs more than parsing a short briefing). Only
    the block structure is used: inline parsing (emphasis, links) is skipped, which also keeps
    pathological inline markup ("[[[[…", "*a *a …") from taking seconds per file."""
    md = MarkdownIt("commonmark").enable("table").disable("inline")
    md.parse("# warm\n\n- up\n")  # rule chains compile on first use: not later, in two threads at once
    return md


def _markdown_blocks(text: str, body_start: int) -> tuple[list[Block], list[tuple[str, int]]]:
    body = text[body_start:]
    tokens = _markdown().parse(body)
    starts = _line_starts(text, body_start)
    blocks: list[Block] = []
    headings: list[tuple[str, int]] = []
    stack: list[tuple[int, str]] = []
    i = 0
    n = len(tokens)

    def section() -> tuple[str, ...]:
        return tuple(name for _, name in stack)

    def add(s: int, e: int, kind: str) -> None:
        if e > s:
            blocks.append(Block(s, e, section(), kind, len(blocks) + 1))

    while i < n:
        tok = tokens[i]
        if tok.level != 0 or tok.map is None:
            i += 1
            continue
        close = _closing_index(tokens, i)
        first, last = tok.map
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            title = " ".join(tokens[i + 1].content.split()).strip().strip("#").strip()
            if len(title) > MAX_SECTION_CHARS:
                title = title[: MAX_SECTION_CHARS - 1].rstrip() + "…"
            if title:
                headings.append((title.rstrip(":"), level))
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, title.rstrip(":")))
        elif tok.type == "paragraph_open":
            s, e = _span(text, starts, first, last)
            add(s, e, "paragraph")
        elif tok.type in ("bullet_list_open", "ordered_list_open"):
            for j in range(i + 1, close):
                item = tokens[j]
                if item.type == "list_item_open" and item.level == 1 and item.map is not None:
                    s, e = _span(text, starts, item.map[0], item.map[1])
                    m = _MD_ITEM_MARKER.match(text, s)
                    if m and m.end() < e:
                        s = m.end()
                    add(s, e, "bullet")
        elif tok.type == "blockquote_open":
            s, e = _span(text, starts, first, last)
            if "\n" not in text[s:e]:
                # One quoted line reads best without its marker (still a verbatim span).
                m = re.match(r">[ \t]*", text[s:e])
                s += m.end() if m else 0
            add(s, e, "quote")
        elif tok.type == "table_open":
            s, e = _span(text, starts, first, last)
            add(s, e, "table")
        elif tok.type in ("fence", "code_block"):
            s, e = _span(text, starts, first, last)
            add(s, e, "code")
        i = close + 1
    return blocks, headings


def _closing_index(tokens: list[Any], i: int) -> int:
    tok = tokens[i]
    if tok.nesting != 1:
        return i
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


# --------------------------------------------------------------------------- plain text


@dataclass
class _Line:
    start: int
    end: int  # end of content, without the newline
    text: str

    @property
    def blank(self) -> bool:
        return not self.text.strip()


def _plain_lines(text: str, body_start: int) -> list[_Line]:
    lines: list[_Line] = []
    pos = body_start
    for raw in text[body_start:].splitlines(keepends=True):
        content = raw.rstrip("\r\n")
        lines.append(_Line(pos, pos + len(content), content))
        pos += len(raw)
    return lines


def _is_heading_line(s: str) -> bool:
    t = s.strip()
    if not t or len(t) > 100 or _BULLET.match(s):
        return False
    if t.startswith("#"):
        return True
    words = t.split()
    if len(words) > 14:
        return False
    if t.endswith(":"):
        return len(words) <= 6
    if t.endswith(_TERMINAL):
        return False
    first = t[0]
    return first.isupper() or first.isdigit() or first in "“\"'‘"


def _plain_blocks(text: str, body_start: int) -> tuple[list[Block], list[tuple[str, int]]]:
    lines = _plain_lines(text, body_start)
    runs: list[list[_Line]] = []
    current: list[_Line] = []
    for line in lines:
        if line.blank:
            if current:
                runs.append(current)
                current = []
        else:
            current.append(line)
    if current:
        runs.append(current)

    blocks: list[Block] = []
    headings: list[tuple[str, int]] = []
    section: tuple[str, ...] = ()
    md_stack: list[tuple[int, str]] = []

    def add(s: int, e: int, kind: str) -> None:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            blocks.append(Block(s, e, section, kind, len(blocks) + 1))

    def set_heading(line: _Line, opens_file: bool) -> None:
        nonlocal section
        raw = line.text.strip()
        level = 0 if opens_file else 2
        if raw.startswith("#"):
            hashes = len(raw) - len(raw.lstrip("#"))
            level = 1 if hashes == 1 else hashes
            name = raw.lstrip("#").strip().rstrip(":").strip()
            while md_stack and md_stack[-1][0] >= level:
                md_stack.pop()
            md_stack.append((level, name))
            section = tuple(n for _, n in md_stack)
        else:
            name = raw.rstrip(":").strip()
            md_stack.clear()
            section = (name,)
        headings.append((name, level))

    for r, run in enumerate(runs):
        next_run = runs[r + 1] if r + 1 < len(runs) else None
        if len(run) > 1 and all(len(x.text.strip()) <= 60 and not _BULLET.match(x.text) for x in run):
            # A run of short lines only (a header block, an address) reads as one unit.
            add(run[0].start, run[-1].end, "paragraph")
            continue
        k = 0
        while k < len(run):
            line = run[k]
            if _heading_at(run, k, next_run):
                set_heading(line, opens_file=not blocks and not headings and r == 0 and k == 0)
                k += 1
                continue
            bullet = _BULLET.match(line.text)
            if bullet:
                end_k = k
                # Indented continuation lines belong to the bullet.
                while (
                    end_k + 1 < len(run)
                    and run[end_k + 1].text[:1] in (" ", "\t")
                    and not _BULLET.match(run[end_k + 1].text)
                ):
                    end_k += 1
                add(line.start + bullet.end(), run[end_k].end, "bullet")
                k = end_k + 1
                continue
            # Lines that each end a sentence are paragraphs of their own; soft-wrapped lines
            # are joined into one paragraph.
            end_k = k
            while end_k + 1 < len(run) and _soft_wrap(run[end_k], run[end_k + 1]):
                end_k += 1
            add(line.start, run[end_k].end, "paragraph")
            k = end_k + 1
    return blocks, headings


def _heading_at(run: list[_Line], k: int, next_run: list[_Line] | None, depth: int = 0) -> bool:
    """Line ``k`` of a run is a heading: short, unpunctuated, with body text (or a heading
    over body text, as a title over "Key Takeaways:") after it."""
    line = run[k]
    if line.text.lstrip().startswith("#"):
        return True
    if not _is_heading_line(line.text):
        return False
    if k + 1 < len(run):
        following, rest, rest_k = run[k + 1], run, k + 1
        if _is_body_after_heading(line, following):
            return True
    elif next_run:
        following, rest, rest_k = next_run[0], next_run, 0
        # Alone on its line before a blank: the next run is body if it reads as prose.
        prose = sum(len(x.text.strip()) for x in next_run)
        wrapped = len(next_run) > 1 and _soft_wrap(next_run[0], next_run[1])
        if _BULLET.match(following.text) or (
            prose > 60 and (wrapped or not _is_heading_line(following.text))
        ):
            return True
    else:
        return False
    return depth == 0 and _heading_at(rest, rest_k, None, depth + 1)


def _is_body_after_heading(heading: _Line, nxt: _Line) -> bool:
    """The line after a heading is body text: a bullet, or longer than the heading."""
    if _BULLET.match(nxt.text):
        return True
    return len(nxt.text.strip()) > max(60, len(heading.text.strip()) + 20)


def _soft_wrap(cur: _Line, nxt: _Line) -> bool:
    """Whether a single line break inside a run only wraps one paragraph."""
    stripped = cur.text.rstrip()
    if not stripped or _BULLET.match(nxt.text):
        return False
    if stripped.endswith(_TERMINAL) or stripped.endswith(":"):
        return False
    nxt_first = nxt.text.lstrip()[:1]
    # A wrapped line continues a sentence: the next line starts in lower case, or the
    # current line is long, as fixed-width wrapping leaves it (a short one is a heading).
    if nxt_first.islower() or nxt_first.isdigit():
        return True
    return len(stripped) >= 60 and not _is_heading_line(cur.text)

"""PDF briefings through pypdfium2 (PDFium; Apache-2.0/BSD-3): lines with their geometry and
fonts, then paragraphs, headings and pages.

PDFium gives the text in the order of the page's content with each line's box, font size and
weight. From those this module drops running headers, footers and page numbers, joins a
paragraph's lines (also across a page or column break), rejoins words hyphenated at a line
end, and takes larger or bold short lines as headings. A PDF with no text layer, or one that
needs a password, is refused with the reason.
"""

from __future__ import annotations

import ctypes
import itertools
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from index.formats.base import DocumentBuilder, clean_inline, clean_title, make_meta
from index.parsing import BriefingError, ParsedDocument

NO_TEXT_LAYER = "no text layer (scanned?)"
PASSWORD = "password-protected PDF: save a copy without a password to index it"

# A character PDFium marks as a hyphen it removed at a line end ("adip\ufffeiscing").
_PDFIUM_HYPHEN = "\ufffe"
_HYPHENS = "-\u00ad\u2010" + _PDFIUM_HYPHEN
_TERMINAL = tuple('.!?:;"”’)')
_PAGE_NUMBER = re.compile(
    r"(?i)^(?:page\s*)?[-–—(]?\s*(?:\d{1,4}|[ivxlc]{1,7})\s*[-–—)]?(?:\s*(?:of|/)\s*\d{1,4})?$"
)
_BOLD_NAME = re.compile(r"(?i)bold|black|heavy|semibold|demi")
MAX_HEADING_LINES = 4
MAX_HEADING_CHARS = 300


@dataclass
class Line:
    """One line of text on a page, in PDF points (y grows upwards)."""

    page: int
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool
    hyphen_after: bool = False  # PDFium removed a hyphen at the end of this line


def read(rel_path: str, data: bytes, max_bytes: int) -> list[ParsedDocument]:
    """The briefing in a PDF file (one document; ``max_bytes`` is checked by the caller)."""
    head = data[:1024]
    if b"%PDF-" not in head:
        raise BriefingError(f"not a PDF (the file {_looks_like(head)}), though its name ends in .pdf")
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise BriefingError(PASSWORD) from exc
        raise BriefingError(f"damaged PDF ({_reason(exc)})") from exc
    try:
        meta_dict = pdf.get_metadata_dict(skip_empty=True)
        pages = [_page_lines(pdf, i) for i in range(len(pdf))]
    finally:
        pdf.close()
    builder = assemble(pages)
    if not builder.blocks:
        raise BriefingError(NO_TEXT_LAYER)
    blank = [str(i + 1) for i, page in enumerate(pages) if not page]
    warnings = (
        (f"pages without a text layer (scanned?), not indexed: {', '.join(blank[:20])}",) if blank else ()
    )
    meta = make_meta(
        rel_path,
        data,
        headings=builder.headings,
        title=clean_title(meta_dict.get("Title")),
        fallback_date=_pdf_date(meta_dict.get("CreationDate")),
        source=clean_inline(meta_dict.get("Author", "")) or None,
        warnings=warnings,
    )
    return [builder.document(meta)]


def _looks_like(head: bytes) -> str:
    lower = head.lstrip().lower()
    if lower.startswith((b"<!doctype html", b"<html")) or b"<html" in lower:
        return "is HTML"
    if head.startswith(b"PK\x03\x04"):
        return "is a zip archive"
    return "does not start with %PDF-"


def _reason(exc: Exception) -> str:
    text = str(exc)
    m = re.search(r"PDFium: ([^)]*)", text)
    return (m.group(1) if m else text).strip().rstrip(".") or type(exc).__name__


def _pdf_date(value: object) -> date | None:
    m = re.match(r"D:(\d{4})(\d{2})(\d{2})", value) if isinstance(value, str) else None
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


# ---------------------------------------------------------------------------- lines


def _page_lines(pdf: pdfium.PdfDocument, index: int) -> list[Line]:
    """The lines of one page in PDFium's reading order, with boxes and font facts."""
    page = pdf[index]
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count <= 0:
            return []
        text = textpage.get_text_range()
        if len(text) != count:  # PDFium's text and its character list disagree: read one by one
            text = "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage, i) or 32) for i in range(count))
        lines: list[Line] = []
        start = 0
        for m in re.finditer(r"\r\n|[\r\n\ufffe]", text):
            _add_line(lines, textpage, index + 1, text, start, m.start(), m.group() == _PDFIUM_HYPHEN)
            start = m.end()
        _add_line(lines, textpage, index + 1, text, start, len(text), False)
        return lines
    finally:
        textpage.close()
        page.close()


def _add_line(
    out: list[Line], textpage: pdfium.PdfTextPage, page: int, text: str, s: int, e: int, hyphen: bool
) -> None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e <= s:
        return
    first, last = _box(textpage, s), _box(textpage, e - 1)
    if first is None or last is None:
        return
    samples = sorted({s, (s + e) // 2, e - 1})
    sizes = [pdfium_c.FPDFText_GetFontSize(textpage, i) for i in samples]
    weights = [pdfium_c.FPDFText_GetFontWeight(textpage, i) for i in samples]
    bold = all(w >= 600 for w in weights) or all(_bold_font(textpage, i) for i in samples)
    out.append(
        Line(
            page=page,
            text=text[s:e],
            x0=first[0],
            x1=max(last[2], first[2]),
            top=max(first[1], last[1]),
            bottom=min(first[3], last[3]),
            size=round(statistics.median(sizes), 1),
            bold=bold,
            hyphen_after=hyphen,
        )
    )


def _box(textpage: pdfium.PdfTextPage, i: int) -> tuple[float, float, float, float] | None:
    rect = pdfium_c.FS_RECTF()
    if not pdfium_c.FPDFText_GetLooseCharBox(textpage, i, rect):
        return None
    return rect.left, rect.top, rect.right, rect.bottom


def _bold_font(textpage: pdfium.PdfTextPage, i: int) -> bool:
    buf = ctypes.create_string_buffer(128)
    flags = ctypes.c_int(0)
    n = pdfium_c.FPDFText_GetFontInfo(textpage, i, buf, 128, ctypes.byref(flags))
    return bool(n) and bool(_BOLD_NAME.search(buf.value.decode("latin-1", "replace")))


# ---------------------------------------------------------------------------- layout


def assemble(pages: list[list[Line]]) -> DocumentBuilder:
    """Pages of lines -> text with paragraphs, headings and page starts."""
    pages = drop_running_lines(pages)
    all_lines = [line for page in pages for line in page]
    builder = DocumentBuilder()
    if not all_lines:
        return builder
    body = _body_size(all_lines)
    pitch = _line_pitch(all_lines, body)
    levels = _heading_levels(all_lines, body)
    vocab = _vocabulary(all_lines)
    firsts = {id(page[0]): n for n, page in enumerate(pages) if page}
    starts: dict[int, int] = {}  # page index -> offset of its first line in the text

    para: list[Line] = []
    heading: list[Line] = []

    def flush_para() -> None:
        if para:
            text, offsets = _join_lines(para, vocab)
            at = builder.block(text)
            for line, off in zip(para, offsets, strict=True):
                if id(line) in firsts and at >= 0:
                    starts[firsts[id(line)]] = at + off
            para.clear()

    def flush_heading() -> None:
        if heading:
            text = " ".join(clean_inline(x.text) for x in heading)
            if len(heading) > MAX_HEADING_LINES or len(text) > MAX_HEADING_CHARS:
                # Many lines in a large or bold font are a paragraph set large, not a heading:
                # headings are not quoted, so it must not be lost as one.
                para.extend(heading)
                heading.clear()
                flush_para()
                return
            at = builder.heading(text, levels[heading[0].size])
            for line in heading:
                if id(line) in firsts and at >= 0:
                    starts.setdefault(firsts[id(line)], at)
            heading.clear()

    prev: Line | None = None
    for page in pages:
        if not page:
            continue
        # A paragraph that runs on over the page break stays one paragraph.
        if not (para and _continues(para[-1], page[0], min(x.x0 for x in page), body)):
            flush_para()
            flush_heading()
        for line in page:
            if _is_heading(line, body):
                flush_para()
                if heading and (line.size != heading[-1].size or _gap(heading[-1], line) > 2.0 * line.size):
                    flush_heading()
                heading.append(line)
                prev = line
                continue
            flush_heading()
            if para and prev is not None and prev.page == line.page and _breaks(para, line, pitch, body):
                flush_para()
            para.append(line)
            prev = line
    flush_para()
    flush_heading()
    nxt = builder.length
    offsets = [0] * len(pages)
    for n in range(len(pages) - 1, -1, -1):  # a page without text starts where the next one does
        nxt = starts.get(n, nxt)
        offsets[n] = nxt
    builder.pages = offsets
    return builder


def drop_running_lines(pages: list[list[Line]]) -> list[list[Line]]:
    """Without running headers and footers (the same text at the top or bottom of most pages,
    digits aside) and page numbers."""

    def key(line: Line) -> str:
        return re.sub(r"\d+", "#", clean_inline(line.text).lower())

    def edges(page: list[Line]) -> list[Line]:
        by_y = sorted(page, key=lambda x: -x.top)
        return by_y[:2] + by_y[-2:]

    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({key(x) for x in edges(page)})
    need = max(2, (len(pages) + 1) // 2)
    out: list[list[Line]] = []
    for page in pages:
        if not page:
            out.append(page)
            continue
        top = max(x.top for x in page)
        bottom = min(x.bottom for x in page)
        height = max(top - bottom, 1.0)
        drop: set[int] = set()
        for x in edges(page):
            near_edge = x.top >= top - 0.12 * height or x.bottom <= bottom + 0.12 * height
            if (len(pages) > 1 and counts[key(x)] >= need) or (
                near_edge and _PAGE_NUMBER.match(clean_inline(x.text))
            ):
                drop.add(id(x))
        out.append([x for x in page if id(x) not in drop])
    return out


def _body_size(lines: list[Line]) -> float:
    weight: Counter[float] = Counter()
    for x in lines:
        weight[x.size] += len(x.text)
    return weight.most_common(1)[0][0]


def _line_pitch(lines: list[Line], body: float) -> float:
    """The usual distance between two lines of one paragraph of body text."""
    gaps = [
        a.top - b.top
        for a, b in itertools.pairwise(lines)
        if a.page == b.page and a.size == b.size == body and 0 < a.top - b.top < 3 * body
    ]
    # Not the median: in a transcript of one-line paragraphs most steps are between paragraphs.
    return sorted(gaps)[len(gaps) // 5] if gaps else 1.2 * body


def _heading_levels(lines: list[Line], body: float) -> dict[float, int]:
    bigger = sorted({x.size for x in lines if x.size >= body * 1.15}, reverse=True)
    levels = {size: i + 1 for i, size in enumerate(bigger[:3])}
    for size in bigger[3:]:
        levels[size] = 3
    levels.setdefault(body, len(levels) + 1)
    for x in lines:
        levels.setdefault(x.size, min(len(bigger) + 1, 4))
    return levels


def _is_heading(line: Line, body: float) -> bool:
    text = clean_inline(line.text)
    if not text or len(text) > 200 or not any(ch.isalpha() for ch in text):
        return False
    if line.size >= body * 1.15:
        return True
    # A bold line of body size: a heading when short and not a sentence.
    return line.bold and len(text) <= 100 and not text.endswith(_TERMINAL[:3]) and len(text.split()) <= 14


def _gap(a: Line, b: Line) -> float:
    return a.top - b.top if a.page == b.page else 0.0


def _breaks(para: list[Line], line: Line, pitch: float, body: float) -> bool:
    """Whether ``line`` starts a new paragraph after the lines in ``para``."""
    prev = para[-1]
    step = prev.top - line.top
    if step < -0.5 * pitch:  # moved up: the next column
        return not _continues(prev, line, line.x0, body)
    if step > 1.35 * pitch or line.size != prev.size:
        return True
    para = _same_column(para)
    left = min(x.x0 for x in para)
    width = max(x.x1 for x in para) - left
    if len(para) > 1 and line.x0 - left > 0.8 * body:  # first-line indent
        return True
    if len(para) == 1 and prev.x0 - line.x0 > 0.8 * body:  # the paragraph's first line was indented
        return False
    short = prev.x1 < left + 0.8 * width if len(para) > 1 else False
    return short and clean_inline(prev.text).endswith(_TERMINAL)


def _same_column(para: list[Line]) -> list[Line]:
    """The paragraph's lines since it last moved up to a new column."""
    k = len(para) - 1
    while k > 0 and para[k - 1].top > para[k].top:
        k -= 1
    return para[k:]


def _continues(prev: Line, line: Line, left: float, body: float) -> bool:
    """A paragraph runs on into the next page or column: it stopped mid-sentence, and the
    next line is not indented as a new paragraph would be. (A paragraph that ends a page
    at a sentence end is taken as complete: ragged-right lines cannot tell.)"""
    end = clean_inline(prev.text)
    if not end or prev.size != line.size or line.x0 - left > 0.8 * body:
        return False
    return not end.endswith(_TERMINAL)


def _vocabulary(lines: list[Line]) -> set[str]:
    """Words the document writes inside lines (not the fragments at a line's ends)."""
    words: set[str] = set()
    for x in lines:
        found = re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", x.text)
        words.update(w.lower() for w in found[1:-1])
    return words


def _join_lines(lines: list[Line], vocab: set[str]) -> tuple[str, list[int]]:
    """A paragraph's lines as one text (a space between lines, words hyphenated at a line end
    rejoined) and where each line starts in it."""
    out = clean_inline(lines[0].text)
    offsets = [0]
    for prev, line in itertools.pairwise(lines):
        nxt = clean_inline(line.text)
        if prev.hyphen_after:
            out = _rejoin(out, nxt, vocab)
        elif out[-1:] in _HYPHENS and out[-2:-1].isalpha() and nxt[:1].islower():
            out = _rejoin(out[:-1], nxt, vocab)
        else:
            out = f"{out} {nxt}"
        offsets.append(len(out) - len(nxt))
    return out, offsets


def _rejoin(left: str, right: str, vocab: set[str]) -> str:
    """Join a word split at a line end by a hyphen: a word the document knows whole is
    joined, a compound it knows ("high-profile") or of two words it knows ("test-launch")
    keeps its hyphen, and anything else was hyphenated by the typesetter ("adip-iscing")."""
    head = re.search(r"[^\W\d_]+$", left)
    tail = re.match(r"[^\W\d_]+", right)
    if head and tail:
        a, b = head.group().lower(), tail.group().lower()
        if a + b in vocab:
            return left + right
        if f"{a}-{b}" in vocab or (a in vocab and b in vocab and len(a) > 1 and len(b) > 1):
            return f"{left}-{right}"
    return left + right

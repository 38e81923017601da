"""Word ``.docx`` briefings through python-docx (MIT): headings from paragraph styles,
paragraphs, list items, one passage per table row, and the title and created date from the
document's core properties. Headers, footers and images are not read.
"""

from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.document import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from index.formats.base import DocumentBuilder, as_date, clean_inline, clean_title, make_meta
from index.parsing import BriefingError, ParsedDocument

MAX_UNPACKED = 400 * 1024 * 1024  # a zip that unpacks to more is refused (a "zip bomb")
_HEADING_STYLE = re.compile(r"(?i)^heading\s*(\d)$")


def read(rel_path: str, data: bytes, max_bytes: int) -> list[ParsedDocument]:
    """The briefing in a Word file (one document)."""
    check_package(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds for a damaged package
        raise BriefingError(f"damaged Word file ({type(exc).__name__}: {str(exc)[:120]})") from exc
    builder = DocumentBuilder()
    add_body(builder, document)
    props = document.core_properties
    meta = make_meta(
        rel_path,
        data,
        headings=builder.headings,
        title=clean_title(props.title),
        fallback_date=as_date(props.created),
        source=clean_inline(props.author or "") or None,
    )
    return [builder.document(meta)]


def check_package(data: bytes) -> None:
    """A .docx is a zip holding ``word/document.xml`` that does not unpack to a huge size."""
    if not data.startswith(b"PK\x03\x04"):
        what = "is HTML" if b"<html" in data[:2048].lower() else "is not a zip package"
        raise BriefingError(f"not a Word .docx file (the file {what}), though its name ends in .docx")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = set(package.namelist())
            unpacked = sum(info.file_size for info in package.infolist())
    except zipfile.BadZipFile as exc:
        raise BriefingError(f"damaged Word file (not a readable zip: {exc})") from exc
    if "word/document.xml" not in names:
        raise BriefingError("not a Word .docx file (a zip archive without word/document.xml)")
    if unpacked > MAX_UNPACKED:
        raise BriefingError(f"unpacks to {unpacked / 2**20:.0f} MB (limit {MAX_UNPACKED / 2**20:.0f} MB)")


def add_body(builder: DocumentBuilder, document: Document) -> None:
    """Paragraphs, headings, list items and table rows of the body, in document order."""
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            _add_paragraph(builder, item)
        elif isinstance(item, Table):
            _add_table(builder, item)


def _add_paragraph(builder: DocumentBuilder, paragraph: Paragraph) -> None:
    text = paragraph.text
    if not text.strip():
        return
    style = paragraph.style.name if paragraph.style is not None else ""
    level = _heading_level(style or "")
    if level is not None:
        builder.heading(text, level)
        return
    listed = paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None
    kind = "bullet" if listed or (style or "").lower().startswith("list") else "paragraph"
    builder.block(text, kind)


def _heading_level(style: str) -> int | None:
    if style.lower() == "title":
        return 1
    m = _HEADING_STYLE.match(style.strip())
    return int(m.group(1)) if m else None


def _add_table(builder: DocumentBuilder, table: Table) -> None:
    """Each row is a passage: its cells' text joined by " | " (a merged cell once)."""
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(clean_inline(p.text) for p in cell.paragraphs if p.text.strip())
            if text:
                cells.append(text)
        if cells:
            builder.block(" | ".join(cells), "table")

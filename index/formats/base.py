"""What every format reader shares: building the extracted text block by block, and metadata.

A reader never quotes the file's bytes: it writes the text it extracted into a
``DocumentBuilder``, which records each block as a span of that text, so quotes stay
``text[start:end]`` of the stored, extracted text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath

from index.models import Block, BriefingMeta
from index.parsing import (
    GENERIC_HEADINGS,
    BriefingError,
    ParsedDocument,
    briefing_id_for,
    date_from_filename,
    sha256_bytes,
    title_from_filename,
)

BLOCK_SEPARATOR = "\n\n"
# Headings that name a part of a document rather than the document.
NOT_TITLES = GENERIC_HEADINGS | {"contents", "table of contents", "abstract", "agenda", "notes"}
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b\ufeff\ufffe]")


def clean_inline(text: str) -> str:
    """One line as a reader shows it: control characters gone, runs of spaces (also
    non-breaking ones) made one space, trimmed."""
    return _SPACES.sub(" ", _CONTROLS.sub("", text)).strip()


def clean_block(text: str) -> str:
    """A block of one or more lines: each line cleaned, empty lines dropped."""
    lines = (clean_inline(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


@dataclass
class DocumentBuilder:
    """The extracted text of one document, with its blocks, headings and page starts."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    blocks: list[Block] = field(default_factory=list)
    headings: list[tuple[str, int]] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)  # where each page starts (paged formats)
    _stack: list[tuple[int, str]] = field(default_factory=list)

    def _append(self, text: str) -> int:
        if self.parts:
            self.parts.append(BLOCK_SEPARATOR)
            self.length += len(BLOCK_SEPARATOR)
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        return start

    def heading(self, text: str, level: int) -> int:
        """A heading: shown in the text, and the section of the blocks after it. Returns
        where it starts in the text (-1 when empty)."""
        name = clean_inline(text).rstrip(":").strip()
        if not name:
            return -1
        start = self._append(name)
        level = max(1, level)
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, name))
        self.headings.append((name, level))
        return start

    def block(self, text: str, kind: str = "paragraph") -> int:
        """A quotable block (paragraph, bullet, table row...), cleaned; empty ones are ignored.
        Returns where it starts in the text (-1 when empty)."""
        body = clean_block(text)
        if not body:
            return -1
        start = self._append(body)
        section = tuple(name for _, name in self._stack)
        self.blocks.append(Block(start, start + len(body), section, kind, len(self.blocks) + 1))
        return start

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def document(self, meta: BriefingMeta) -> ParsedDocument:
        """The parsed document; a leading heading equal to the title is not a section."""
        if not self.blocks:
            raise BriefingError("no text found (an empty document?)")
        blocks = self.blocks
        if self.headings and self.headings[0][0] == meta.title:
            blocks = [
                Block(b.start, b.end, b.section[1:], b.kind, b.paragraph)
                if b.section[:1] == (meta.title,)
                else b
                for b in blocks
            ]
        pages = tuple(min(p, self.length) for p in self.pages)
        return ParsedDocument(meta=meta, text=self.text, blocks=tuple(blocks), pages=pages)


def clean_title(value: object) -> str:
    """A metadata title as people would write it, or "" when it is empty or machine-made."""
    if not isinstance(value, str):
        return ""
    title = clean_inline(unicodedata.normalize("NFC", value))
    if not title or title.lower() in {"untitled", "untitled document", "document", "title"}:
        return ""
    if re.fullmatch(r"(?i)(microsoft word - )?\S+\.(docx?|pdf|html?|txt|rtf|odt)", title):
        return ""  # a file name, not a title
    return title[:300]


def make_meta(
    rel_path: str,
    data: bytes,
    *,
    headings: list[tuple[str, int]],
    title: str = "",
    when: date | None = None,
    fallback_date: date | None = None,
    source: str | None = None,
    url: str | None = None,
    briefing_id: str | None = None,
    warnings: tuple[str, ...] = (),
) -> BriefingMeta:
    """Metadata of an extracted briefing.

    Title: the document's own, else its first top-level heading, else the file name. Date:
    ``when`` (an explicit publication date), else a date in the file name, else
    ``fallback_date`` (a document's created date, often when it was converted).
    """
    name = PurePosixPath(rel_path).name
    if not title and headings:
        first, level = headings[0]
        if level <= 1 and first.lower() not in NOT_TITLES:
            title = first
    if not title:
        title = title_from_filename(name)
    day = when or date_from_filename(name) or fallback_date
    link = url if url and re.match(r"^https?://\S+$", url) else None
    return BriefingMeta(
        briefing_id=briefing_id or briefing_id_for(rel_path),
        path=rel_path,
        title=title,
        date=day,
        source=clean_inline(source)[:200] or None if source else None,
        url=link,
        sha256=sha256_bytes(data),
        size=len(data),
        warnings=warnings,
    )


def as_date(value: object) -> date | None:
    """A date from a datetime/date, or None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None

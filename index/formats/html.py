"""HTML briefings (a saved page, an exported newsletter) through trafilatura (Apache-2.0):
the main content only, without navigation, cookie banners, sidebars or footers; headings,
paragraphs, list items and table rows as blocks; the title, published date, canonical URL
and site name from the page's metadata.
"""

from __future__ import annotations

import re
from datetime import date

import trafilatura
from lxml import etree

from index.formats.base import DocumentBuilder, clean_title, make_meta
from index.parsing import BriefingError, ParsedDocument

_MARKUP = re.compile(rb"<\s*(?:!doctype\s+html|html|head|body|p|div|h[1-6]|article|table|br|span)\b", re.I)
# A page saved from a Python byte string: b'...' with literal \xc2\xa0 escapes and \n.
_BYTE_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")
_LEVEL = re.compile(r"h([1-6])")
_BLANK_LINE = re.compile(r"\n[ \t\u00a0]*\n")


def read(rel_path: str, data: bytes, max_bytes: int) -> list[ParsedDocument]:
    """The briefing in an HTML page (one document)."""
    return [parse_html(rel_path, data)]


def parse_html(
    rel_path: str,
    data: bytes,
    *,
    briefing_id: str | None = None,
    title: str = "",
    when: date | None = None,
    source: str | None = None,
    url: str | None = None,
    sniff: bool = True,
) -> ParsedDocument:
    """An HTML document; the keyword values (from an e-mail's headers) win over the page's.
    ``sniff``: check that the bytes are HTML (an e-mail's text/html part says so itself)."""
    if sniff:
        check_html(data, "html")
    html = repair_byte_strings(decode_html(data))
    xml = trafilatura.extract(
        html,
        output_format="xml",
        include_tables=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        favor_recall=True,
        with_metadata=False,
    )
    builder = DocumentBuilder()
    if xml:
        _walk(builder, etree.fromstring(xml.encode("utf-8")))
    if not builder.blocks:
        raise BriefingError("no main text found in the page")
    page = trafilatura.extract_metadata(html, extensive=False)
    meta = make_meta(
        rel_path,
        data,
        headings=builder.headings,
        title=title or clean_title(page.title),
        when=when or _iso_date(page.date),
        source=source or page.sitename or page.author,
        url=url or page.url,
        briefing_id=briefing_id,
    )
    return builder.document(meta)


def check_html(data: bytes, suffix: str) -> None:
    """Refuse bytes that are not HTML, whatever the name says."""
    head = data[:4096]
    if head.startswith(b"%PDF-"):
        raise BriefingError(f"not HTML (the file is a PDF), though its name ends in .{suffix}")
    if head.startswith(b"PK\x03\x04") or b"\x00" in head:
        raise BriefingError(f"not HTML (the file is binary), though its name ends in .{suffix}")
    if not _MARKUP.search(head):
        raise BriefingError(f"not HTML (no HTML tags at the start), though its name ends in .{suffix}")


def decode_html(data: bytes) -> str:
    """UTF-8 (the web's default), else the charset the page declares, else Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    m = re.search(rb"""charset=["']?([A-Za-z0-9_.:-]+)""", data[:4096])
    for name in (m.group(1).decode("ascii") if m else "", "cp1252"):
        try:
            return data.decode(name) if name else data.decode("cp1252")
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def repair_byte_strings(html: str) -> str:
    """Undo Python byte-string debris in scraped pages: ``b'...'`` wrappers, literal
    ``\\xc2\\xa0`` escapes (decoded as the UTF-8 they spell) and literal ``\\n``."""
    if len(_BYTE_ESCAPES.findall(html[:100000])) < 3:
        return html

    def decode(m: re.Match[str]) -> str:
        raw = bytes.fromhex(m.group().replace("\\x", ""))
        return raw.decode("utf-8", errors="replace")

    html = _BYTE_ESCAPES.sub(decode, html)
    html = html.replace("\\n", "\n").replace("\\t", " ").replace("\\'", "'")
    return re.sub(r"""(^|>)\s*b(['"])<""", r"\1<", html)


def _iso_date(value: object) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _walk(builder: DocumentBuilder, element: etree._Element) -> None:
    """trafilatura's XML (main/head/p/list/item/table/row/cell/quote/code) -> blocks."""
    for child in element:
        tag = child.tag
        if tag == "head":
            m = _LEVEL.match(child.get("rend", "h2"))
            builder.heading(_text(child), int(m.group(1)) if m else 2)
        elif tag == "p":
            # Paragraphs written as <br><br> inside one element are paragraphs of their own.
            for part in _BLANK_LINE.split(_text(child)):
                for paragraph in _prose_lines(part):
                    builder.block(paragraph)
        elif tag == "list":
            for item in child.iter("item"):
                builder.block(_text(item, skip_lists=True), "bullet")
        elif tag == "table":
            for row in child.iter("row"):
                cells = [_text(cell) for cell in row if cell.tag == "cell"]
                builder.block(" | ".join(c for c in cells if c.strip()), "table")
        elif tag == "quote":
            builder.block(_text(child), "quote")
        elif tag == "code":
            builder.block(_text(child), "code")
        elif tag in ("main", "doc", "div", "body"):
            _walk(builder, child)
        else:
            builder.block(_text(child))


def _prose_lines(text: str) -> list[str]:
    """A block of long lines separated by single line breaks is paragraphs written with
    ``<br>``; short lines (an address, a dateline) stay together."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) >= 3 and sum(len(line.strip()) for line in lines) / len(lines) > 80:
        return lines
    return [text]


def _text(element: etree._Element, *, skip_lists: bool = False) -> str:
    """An element's text, with ``<lb/>`` as a line break (nested lists left out when asked)."""
    parts: list[str] = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            parts.append("\n")
        elif not (skip_lists and child.tag == "list"):
            parts.append(_text(child, skip_lists=skip_lists))
        parts.append(child.tail or "")
    return "".join(parts)

"""E-mail ``.eml`` briefings through Python's ``email`` package: the subject is the title,
the Date header the date, the sender the source, ``Archived-At`` the link (and
``X-Briefbot-Audience`` who may see it, as front matter would). The body is read
as plain text, Markdown or HTML (the HTML reader); attachments in a supported format become
briefings of their own, ``<message id>#<file name>``.
"""

from __future__ import annotations

import dataclasses
import email
import re
from datetime import date
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import PurePosixPath

from index.audience import read_audience
from index.formats.base import clean_inline
from index.formats.html import parse_html
from index.parsing import (
    SUPPORTED_SUFFIXES,
    BriefingError,
    ParsedDocument,
    briefing_id_for,
    date_from_filename,
    parse_briefing,
    parse_file,
    sha256_bytes,
)

MAX_DEPTH = 3  # e-mails attached to e-mails, at most this deep
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*:[ \t]?\S", re.M)
_KNOWN_HEADERS = re.compile(rb"^(?:from|subject|date|mime-version|to|message-id|received):", re.I | re.M)


def read(rel_path: str, data: bytes, max_bytes: int) -> list[ParsedDocument]:
    """The message's body as one briefing and each supported attachment as another."""
    docs = read_message(rel_path, data, max_bytes, briefing_id_for(rel_path), depth=0)
    # All of them come from this file: its hash tells whether they changed.
    sha = sha256_bytes(data)
    return [
        dataclasses.replace(d, meta=dataclasses.replace(d.meta, sha256=sha, size=len(data))) for d in docs
    ]


def check_message(data: bytes) -> None:
    """Refuse bytes that are not an e-mail message (headers, a blank line, a body)."""
    head = data[:8192]
    if head.startswith((b"%PDF-", b"PK\x03\x04")) or b"\x00" in head:
        raise BriefingError("not an e-mail message (the file is binary), though its name ends in .eml")
    if not _HEADER_LINE.match(head.lstrip()) or not _KNOWN_HEADERS.search(head):
        raise BriefingError("not an e-mail message (no From/Subject/Date headers at the start)")


def read_message(rel_path: str, data: bytes, max_bytes: int, bid: str, depth: int) -> list[ParsedDocument]:
    check_message(data)
    message = email.message_from_bytes(data, policy=policy.default)
    if not isinstance(message, EmailMessage):  # the default policy always makes one
        raise BriefingError("not an e-mail message")
    title = clean_inline(str(message.get("Subject", "") or ""))
    when = _header_date(message)
    source = _sender(message)
    url = _archived_at(message)
    docs: list[ParsedDocument] = []
    warnings: list[str] = []
    body = _body_document(rel_path, data, message, bid, title, when, source, url)
    if body is not None:
        docs.append(body)
    for name, payload in _attachments(message):
        child_id = f"{bid}#{name}"
        try:
            if PurePosixPath(name).suffix.lower() == ".eml":
                if depth + 1 >= MAX_DEPTH:
                    raise BriefingError("e-mails nested too deep")
                found = read_message(rel_path, payload, max_bytes, child_id, depth + 1)
            else:
                found = [
                    _as_attachment(d, rel_path, child_id, name, when, source, url)
                    for d in parse_file(name, payload, max_bytes)
                ]
        except BriefingError as exc:
            warnings.append(f"attachment {name} not indexed: {exc.reason}")
            continue
        docs.extend(found)
    if not docs:
        raise BriefingError(
            "no text in the message or its attachments" + (f" ({'; '.join(warnings)})" if warnings else "")
        )
    audience = _audience(message)
    if audience is not None:  # the header's audience, even one that could not be read (moderators only)
        names, problem = audience
        if problem:
            warnings.append(problem)
        docs = [dataclasses.replace(d, meta=dataclasses.replace(d.meta, audience=names)) for d in docs]
    if warnings:
        first = docs[0]
        docs[0] = dataclasses.replace(
            first, meta=dataclasses.replace(first.meta, warnings=(*first.meta.warnings, *warnings))
        )
    return docs


def _body_document(
    rel_path: str,
    data: bytes,
    message: EmailMessage,
    bid: str,
    title: str,
    when: date | None,
    source: str | None,
    url: str | None,
) -> ParsedDocument | None:
    """The body as a briefing: the HTML part when there is one (it keeps paragraphs whole
    better than the plain part, measured in bench/bench_formats.py), else Markdown or plain
    text; a part that gives no text falls back to the next."""
    for subtype in ("html", "markdown", "plain"):
        part = message.get_body(preferencelist=(subtype,))
        if part is None:
            continue
        content = part.get_content()
        text = content if isinstance(content, str) else bytes(content).decode("utf-8", "replace")
        if not text.strip():
            continue
        try:
            if subtype == "html":
                return _html_body(rel_path, data, text, bid, title, when, source, url)
            doc = parse_briefing("body.md" if subtype == "markdown" else "body.txt", text.encode("utf-8"))
        except BriefingError:
            continue
        meta = dataclasses.replace(
            doc.meta,
            briefing_id=bid,
            path=rel_path,
            title=title or (doc.meta.title if doc.meta.title != "Body" else "") or "(no subject)",
            date=when or doc.meta.date,
            source=source or doc.meta.source,
            url=url or doc.meta.url,
            sha256=sha256_bytes(data),
            size=len(data),
        )
        return dataclasses.replace(doc, meta=meta)
    return None


def _html_body(
    rel_path: str,
    data: bytes,
    html: str,
    bid: str,
    title: str,
    when: date | None,
    source: str | None,
    url: str | None,
) -> ParsedDocument:
    doc = parse_html(
        rel_path, html.encode("utf-8"), briefing_id=bid, title=title, when=when, source=source, url=url
    )
    return dataclasses.replace(
        doc, meta=dataclasses.replace(doc.meta, sha256=sha256_bytes(data), size=len(data))
    )


def _as_attachment(
    doc: ParsedDocument,
    rel_path: str,
    child_id: str,
    name: str,
    when: date | None,
    source: str | None,
    url: str | None,
) -> ParsedDocument:
    """An attachment's briefing: its own title; the message's date unless the file is named
    with one; the message's sender and link unless the file has its own."""
    meta = dataclasses.replace(
        doc.meta,
        briefing_id=child_id,
        path=rel_path,
        date=date_from_filename(name) or when or doc.meta.date,
        source=doc.meta.source or source,
        url=doc.meta.url or url,
    )
    return dataclasses.replace(doc, meta=meta)


def _attachments(message: EmailMessage) -> list[tuple[str, bytes]]:
    """(safe file name, bytes) of attachments in a supported format, names made unique."""
    out: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for part in message.iter_attachments():
        if not isinstance(part, EmailMessage):
            continue
        raw = part.get_filename() or ""
        name = re.sub(r"[\x00-\x1f/\\#]+", "_", raw).strip(" .")[:100]
        if part.get_content_type() == "message/rfc822" and not name:
            name = "attached-message.eml"
        if PurePosixPath(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        content = part.get_content()
        if isinstance(content, EmailMessage):
            payload = content.as_bytes()
        elif isinstance(content, str):
            payload = content.encode("utf-8")
        else:
            payload = bytes(content)
        base, n = name, 2
        while name.lower() in seen:
            name = f"{PurePosixPath(base).stem}-{n}{PurePosixPath(base).suffix}"
            n += 1
        seen.add(name.lower())
        out.append((name, payload))
    return out


def _header_date(message: EmailMessage) -> date | None:
    raw = message.get("Date")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(str(raw)).date()
    except (TypeError, ValueError, IndexError):
        return None


def _sender(message: EmailMessage) -> str | None:
    raw = str(message.get("From", "") or "")
    pairs = getaddresses([raw])
    if not pairs:
        return clean_inline(raw) or None
    name, address = pairs[0]
    return clean_inline(name) or clean_inline(address) or None


def _audience(message: EmailMessage) -> tuple[tuple[str, ...], str | None] | None:
    """``X-Briefbot-Audience: moderators, Editors``: who may see the message's briefings, read
    as ``audience`` in a Markdown briefing's front matter (``index.audience``): no header means
    everyone; a header that cannot be read (empty, commas only) hides them from all but
    moderators, and says so."""
    if "X-Briefbot-Audience" not in message:
        return None
    raw = ",".join(clean_inline(x) for x in str(message.get("X-Briefbot-Audience", "") or "").split(","))
    return read_audience({"audience": raw})


def _archived_at(message: EmailMessage) -> str | None:
    raw = str(message.get("Archived-At", "") or "").strip().strip("<>").strip()
    return raw if re.match(r"^https?://\S+$", raw) else None

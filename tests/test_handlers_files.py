"""Adding and removing briefing files through the shared handlers (any front end)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.errors import UserFacingError
from bot.handlers import Handlers, check_upload

BRIEFING = b"""---
title: "Port of Saltmere reopens berth 4"
date: 2025-02-28
---

## Reopening

Berth 4 at the Port of Saltmere reopened on 27 February after the crane collapse, with two new cranes.
"""


def _files(corpus: Path) -> list[str]:
    return sorted(str(p.relative_to(corpus)) for p in corpus.rglob("*"))


async def test_add_briefing_writes_the_bytes_and_indexes_them(handlers: Handlers, corpus: Path) -> None:
    report = await handlers.add_briefing("2025-02-28-saltmere-berth.md", BRIEFING, "test")

    assert (corpus / "2025-02-28-saltmere-berth.md").read_bytes() == BRIEFING
    assert report.briefings_added == ["2025-02-28-saltmere-berth"]
    answer = await handlers.ask("When did berth 4 at the Port of Saltmere reopen?")
    assert answer.quotes[0].briefing_id == "2025-02-28-saltmere-berth"


async def test_add_briefing_leaves_no_temporary_file(handlers: Handlers, corpus: Path) -> None:
    before = _files(corpus)

    await handlers.add_briefing("2025-02-28-saltmere-berth.md", BRIEFING, "test")

    assert _files(corpus) == sorted([*before, "2025-02-28-saltmere-berth.md"])


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("../../etc/passwd.md", "looks like a path"),
        ("sub/dir.md", "looks like a path"),
        ("back\\slash.md", "looks like a path"),
        ("..md", "looks like a path"),
        (".hidden.md", "hidden"),
        ("report.odt", r"only \.md, \.txt, \.pdf, \.docx, \.html and \.eml"),
        ("report.rtf", "only .md"),
        ("report", "only .md"),
        ("spaced name.md", "not allowed"),
        ("caf\u00e9.md", "not allowed"),
        ("-dash-first.md", "not allowed"),
        ("README.md", "reserved"),
        ("x" * 200 + ".md", "not allowed"),
        ("", "no name"),
    ],
)
def test_unsafe_or_unsupported_names_are_refused(name: str, says: str) -> None:
    with pytest.raises(UserFacingError, match=says):
        check_upload(name, 100, 10_000)


@pytest.mark.parametrize(
    "name", ["report.pdf", "report.docx", "page.html", "page.htm", "mail.eml", "notes.markdown"]
)
def test_every_supported_format_may_be_uploaded(name: str) -> None:
    assert check_upload(name, 100, 10_000) == name


def test_an_attachment_declared_as_an_image_is_refused_before_download() -> None:
    with pytest.raises(UserFacingError, match="an image file, not a briefing"):
        check_upload("report.pdf", 100, 10_000, "image/png")


def test_size_is_checked_against_the_limit_before_any_content() -> None:
    with pytest.raises(UserFacingError, match="at most 1 KB"):
        check_upload("big.md", 2048, 1024)
    with pytest.raises(UserFacingError, match="empty"):
        check_upload("empty.md", 0, 1024)
    assert check_upload("  ok-name_1.txt ", 10, 1024) == "ok-name_1.txt"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("Caf\u00e9 cr\u00e8me".encode("latin-1"), "not UTF-8"),
        (b"---\ntitle: [unclosed\n---\n\nBody text that is long enough to count.\n", "YAML"),
        (b"# Only a heading\n", "no paragraphs"),
    ],
)
async def test_content_that_is_not_a_readable_briefing_is_refused_and_not_saved(
    handlers: Handlers, corpus: Path, data: bytes, says: str
) -> None:
    before = _files(corpus)

    with pytest.raises(UserFacingError, match=says):
        await handlers.add_briefing("2025-03-01-bad.md", data, "test")

    assert _files(corpus) == before


async def test_too_large_content_is_refused_even_if_the_name_passed(handlers: Handlers, corpus: Path) -> None:
    with pytest.raises(UserFacingError, match="at most"):
        await handlers.add_briefing("2025-03-01-big.md", BRIEFING, "test", max_bytes=100)
    assert not (corpus / "2025-03-01-big.md").exists()


async def test_an_existing_file_is_only_replaced_when_asked(handlers: Handlers, corpus: Path) -> None:
    name = "2024-08-19-lindenfall-water-restrictions.md"
    original = (corpus / name).read_bytes()

    with pytest.raises(UserFacingError, match="replace"):
        await handlers.add_briefing(name, BRIEFING, "test")
    assert (corpus / name).read_bytes() == original

    report = await handlers.add_briefing(name, BRIEFING, "test", replace=True)
    assert (corpus / name).read_bytes() == BRIEFING
    assert report.briefings_changed == ["2024-08-19-lindenfall-water-restrictions"]


async def test_a_name_differing_only_by_extension_is_refused(handlers: Handlers, corpus: Path) -> None:
    with pytest.raises(UserFacingError, match="only the extension differs"):
        await handlers.add_briefing(
            "2024-08-19-lindenfall-water-restrictions.txt", BRIEFING, "test", replace=True
        )
    assert not (corpus / "2024-08-19-lindenfall-water-restrictions.txt").exists()


async def test_a_name_differing_only_by_case_needs_replace(handlers: Handlers, corpus: Path) -> None:
    with pytest.raises(UserFacingError, match="already exists"):
        await handlers.add_briefing("2024-08-19-LINDENFALL-water-restrictions.md", BRIEFING, "test")


async def test_remove_briefing_deletes_the_file_and_reindexes(handlers: Handlers, corpus: Path) -> None:
    report = await handlers.remove_briefing("transit/2024-06-14-kestrelbay-transit-talks-open", "test")

    assert not (corpus / "transit/2024-06-14-kestrelbay-transit-talks-open.md").exists()
    assert report.briefings_removed == ["transit/2024-06-14-kestrelbay-transit-talks-open"]
    ids = {m.briefing_id for m in await handlers.briefings()}
    assert "transit/2024-06-14-kestrelbay-transit-talks-open" not in ids


async def test_removing_an_unknown_briefing_is_refused(handlers: Handlers, corpus: Path) -> None:
    before = _files(corpus)

    with pytest.raises(UserFacingError, match="No briefing called"):
        await handlers.remove_briefing("../../etc/passwd", "test")

    assert _files(corpus) == before


async def test_file_changes_are_refused_while_a_reindex_runs(handlers: Handlers, corpus: Path) -> None:
    lock = handlers.service._reindex_lock
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        with pytest.raises(UserFacingError, match="already running"):
            await handlers.add_briefing("2025-02-28-saltmere-berth.md", BRIEFING, "test")
        with pytest.raises(UserFacingError, match="already running"):
            await handlers.remove_briefing("transit/2024-06-14-kestrelbay-transit-talks-open", "test")
    finally:
        release.set()
        holder.join()
    assert not (corpus / "2025-02-28-saltmere-berth.md").exists()
    assert (corpus / "transit/2024-06-14-kestrelbay-transit-talks-open.md").exists()

"""Briefing files -> metadata and blocks: the user's plain style, Markdown, and bad input."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from index.corpus import iter_corpus, read_bytes
from index.parsing import BriefingError, briefing_id_for, parse_briefing
from tests.conftest import USER_BRIEFING


def parse(name: str, text: str | bytes):  # type: ignore[no-untyped-def]
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_briefing(name, data)


def blocks_text(doc) -> list[str]:  # type: ignore[no-untyped-def]
    return [doc.text[b.start : b.end] for b in doc.blocks]


def test_user_briefing_every_bullet_and_paragraph_is_its_own_block() -> None:
    doc = parse_briefing(USER_BRIEFING.name, USER_BRIEFING.read_bytes())
    kinds = [b.kind for b in doc.blocks]
    assert kinds == ["bullet"] * 6 + ["paragraph"] * 6


def test_user_briefing_blocks_know_their_section_heading() -> None:
    doc = parse_briefing(USER_BRIEFING.name, USER_BRIEFING.read_bytes())
    sections = [b.section for b in doc.blocks]
    assert sections[:6] == [("Key Takeaways",)] * 6
    assert sections[6] == ("Shifting Tactics in the Battlefield",)
    assert sections[7] == ("Ukraine’s Unsuccessful Diversion",)
    assert sections[10] == ("The Tacit Exchange : Manpower for Technology",)
    assert sections[11] == ("Wrap Up",)


def test_user_briefing_bullets_are_quoted_without_their_dash() -> None:
    doc = parse_briefing(USER_BRIEFING.name, USER_BRIEFING.read_bytes())
    first = blocks_text(doc)[0]
    assert first == "North Korean troops, equipped with Russian uniforms and gear, inch closer to Ukraine."


def test_every_block_is_an_exact_slice_of_the_file() -> None:
    raw = USER_BRIEFING.read_text(encoding="utf-8")
    doc = parse_briefing(USER_BRIEFING.name, USER_BRIEFING.read_bytes())
    for b in doc.blocks:
        assert raw[b.start : b.end] == doc.text[b.start : b.end]
        assert doc.text[b.start : b.end].strip() == doc.text[b.start : b.end]


def test_user_briefing_without_front_matter_is_undated_and_titled_by_its_lead_sentence() -> None:
    doc = parse_briefing(USER_BRIEFING.name, USER_BRIEFING.read_bytes())
    assert doc.meta.date is None
    assert (
        doc.meta.title
        == "North Korean troops, equipped with Russian uniforms and gear, inch closer to Ukraine"
    )
    assert doc.meta.briefing_id == "000_457032d09a867f08"


def test_paragraph_numbers_count_body_blocks_from_one() -> None:
    doc = parse_briefing(USER_BRIEFING.name, USER_BRIEFING.read_bytes())
    assert [b.paragraph for b in doc.blocks] == list(range(1, 13))


MD = """---
title: Port report
date: 2024-10-31
source: City Desk
url: https://example.org/port
tags: [port, safety]
audience: moderators
---

# Port report

## Key Takeaways

- First takeaway is a full sentence about cranes.
- Second takeaway is about berths and ships.

## Details

A paragraph that is wrapped
over two lines.

> "We will rebuild," said the harbour master.

| Berth | Status |
|-------|--------|
| 7     | closed |

### Sub part

1. Numbered item one about inspections.
2. Numbered item two about unions.
"""


def test_markdown_front_matter_fields_are_kept() -> None:
    doc = parse("port.md", MD)
    m = doc.meta
    assert (m.title, m.date, m.source, m.url) == (
        "Port report",
        date(2024, 10, 31),
        "City Desk",
        "https://example.org/port",
    )
    assert m.tags == ("port", "safety")
    assert m.audience == ("moderators",)


def test_markdown_headings_give_nested_sections_without_the_title() -> None:
    doc = parse("port.md", MD)
    sections = [b.section for b in doc.blocks]
    assert sections[0] == ("Key Takeaways",)
    assert ("Details",) in sections
    assert sections[-1] == ("Details", "Sub part")


def test_markdown_lists_quotes_and_tables_become_readable_blocks() -> None:
    doc = parse("port.md", MD)
    texts = dict(zip(blocks_text(doc), [b.kind for b in doc.blocks], strict=True))
    assert texts["First takeaway is a full sentence about cranes."] == "bullet"
    assert texts["Numbered item one about inspections."] == "bullet"
    assert texts['"We will rebuild," said the harbour master.'] == "quote"
    assert texts["A paragraph that is wrapped\nover two lines."] == "paragraph"
    table = next(t for t, k in texts.items() if k == "table")
    assert table.startswith("| Berth | Status |") and "closed" in table


def test_title_comes_from_first_heading_when_front_matter_has_none() -> None:
    doc = parse("notes.md", "# Budget review\n\nThe budget grew by four percent this year overall.\n")
    assert doc.meta.title == "Budget review"


def test_title_and_date_come_from_the_file_name_when_nothing_else_gives_them() -> None:
    doc = parse("2024-03-05-harbour-update.txt", "The harbour reopened after the storm passed through.\n")
    assert doc.meta.title == "Harbour update"
    assert doc.meta.date == date(2024, 3, 5)


def test_no_date_is_guessed_when_none_is_given(tmp_path: Path) -> None:
    doc = parse("harbour-update.txt", "The harbour reopened after the storm passed through.\n")
    assert doc.meta.date is None
    assert doc.meta.date_label == "undated"


def test_an_unreadable_front_matter_date_is_a_warning_not_a_failure() -> None:
    doc = parse("a.md", "---\ndate: next tuesday\n---\nThe harbour reopened after the storm passed.\n")
    assert doc.meta.date is None
    assert any("not understood" in w for w in doc.meta.warnings)


def test_plain_text_with_blank_lines_joins_wrapped_lines_into_paragraphs() -> None:
    text = (
        "Harbour update\n\nThe harbour reopened on Monday after a storm that\n"
        "closed it for three days, officials said.\n\nShips are queuing outside.\n"
    )
    doc = parse("h.txt", text)
    assert blocks_text(doc) == [
        "The harbour reopened on Monday after a storm that\nclosed it for three days, officials said.",
        "Ships are queuing outside.",
    ]
    assert doc.meta.title == "Harbour update"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("Caf\xe9 society".encode("latin-1"), "not UTF-8"),
        (b"---\ntitle: [unclosed\n---\nBody text here.\n", "not valid YAML"),
        (b"---\ntitle: x\nBody text without a closing line.\n", "no closing"),
        (b"---\n- a\n- b\n---\nBody.\n", "key: value"),
        (b"", "empty"),
        (b"  \n\n \n", "empty"),
        (b"---\ntitle: Only front matter\n---\n", "no paragraphs"),
    ],
)
def test_bad_input_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(BriefingError) as err:
        parse("bad.md", data)
    assert reason in err.value.reason


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    with pytest.raises(BriefingError) as err:
        read_bytes(big, max_bytes=5 * 1024 * 1024)
    assert "too large: 50.0 MB" in err.value.reason


def test_corpus_walk_finds_briefings_in_subfolders_and_skips_notes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.md").write_text("x")
    (tmp_path / "two.txt").write_text("x")
    (tmp_path / "SAMPLES.md").write_text("x")
    (tmp_path / "checks.jsonl").write_text("x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "three.md").write_text("x")
    assert [rel for _, rel in iter_corpus(tmp_path)] == ["a/one.md", "two.txt"]


def test_briefing_id_is_the_relative_path_without_extension() -> None:
    assert briefing_id_for("transit/2024-06-14-talks.md") == "transit/2024-06-14-talks"

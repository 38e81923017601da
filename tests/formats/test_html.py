"""HTML: main content only, metadata from the page, byte-string debris repaired."""

from __future__ import annotations

import pytest

from index.formats.html import repair_byte_strings
from index.parsing import BriefingError, parse_file
from tests.formats.conftest import block_texts, read_fixture


def test_navigation_cookie_banner_sidebar_and_footer_are_left_out() -> None:
    (doc,) = read_fixture("transit-strike-settled.html")

    for boilerplate in (
        "cookies",
        "Subscribe now",
        "Related stories",
        "All rights reserved",
        "Privacy policy",
    ):
        assert boilerplate not in doc.text
    assert block_texts(doc)[0].startswith("Bus and tram drivers in Kestrelbay voted on Monday")


def test_title_date_site_and_canonical_url_come_from_the_page_metadata() -> None:
    (doc,) = read_fixture("transit-strike-settled.html")

    assert doc.meta.title == "Kestrelbay transit strike settled"
    assert doc.meta.date is not None and doc.meta.date.isoformat() == "2024-09-09"
    assert doc.meta.source == "Kestrelbay Herald"
    assert doc.meta.url == "https://herald.example.org/2024/09/transit-strike-settled"


def test_subheadings_are_sections_and_list_items_bullets() -> None:
    (doc,) = read_fixture("transit-strike-settled.html")

    bullets = [
        (b.section, t) for b, t in zip(doc.blocks, block_texts(doc), strict=True) if b.kind == "bullet"
    ]
    assert bullets[0] == (
        ("Service returns",),
        "Monthly passes bought for September remain valid until October 15.",
    )


def test_paragraphs_written_with_line_breaks_become_paragraphs() -> None:
    page = (
        "<html><body><article><p>"
        + "<br>".join(
            f"Paragraph {n} says something long enough to read as prose in a briefing page, as transcripts do."
            for n in range(4)
        )
        + "</p></article></body></html>"
    )
    (doc,) = parse_file("page.html", page.encode())

    assert len(doc.blocks) == 4


def test_python_byte_string_debris_is_decoded() -> None:
    raw = "b'<p>MR. CARNEY:\\xc2\\xa0 Well done.\\xc2\\xa0 It\\xe2\\x80\\x99s true.</p>\\n'"

    assert repair_byte_strings(raw) == "<p>MR. CARNEY:\u00a0 Well done.\u00a0 It’s true.</p>\n'"


def test_a_file_named_html_that_is_not_html_is_refused() -> None:
    with pytest.raises(BriefingError, match="not HTML"):
        parse_file("page.html", b"%PDF-1.7 not a page")

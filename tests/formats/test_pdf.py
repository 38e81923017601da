"""PDF: reading order, pages, running headers and footers, hyphenation, headings, refusals."""

from __future__ import annotations

import pytest

from index.formats.pdf import NO_TEXT_LAYER, PASSWORD
from index.parsing import BriefingError
from tests.formats.conftest import block_texts, read_fixture

HEADER_PDF = "2024-05-30-running-header.pdf"


def test_running_headers_footers_and_page_numbers_are_dropped() -> None:
    (doc,) = read_fixture(HEADER_PDF)

    assert "internal briefing" not in doc.text
    assert "Page 1 of 3" not in doc.text and "Page 3 of 3" not in doc.text


def test_a_word_hyphenated_at_a_line_end_is_rejoined() -> None:
    (doc,) = read_fixture(HEADER_PDF)

    assert "the council asks residents to limit garden watering" in doc.text
    assert "resi-" not in doc.text


def test_a_paragraph_running_over_a_page_break_stays_one_paragraph() -> None:
    (doc,) = read_fixture(HEADER_PDF)

    assert (
        "will staff the lookout towers on the northern ridges through the whole of the season, "
        "with two volunteers at each tower from dawn until dusk."
    ) in block_texts(doc)[2]


def test_headings_come_from_font_size_and_bold() -> None:
    (doc,) = read_fixture(HEADER_PDF)

    assert doc.meta.title == "Carrow wildfire outlook, week 22"  # the document's own title
    sections = [b.section for b in doc.blocks]
    assert sections[0] == ("Carrow wildfire outlook", "Fuel conditions")
    assert sections[-1] == ("Carrow wildfire outlook", "Contacts")


def test_pages_are_kept_for_every_block() -> None:
    (doc,) = read_fixture(HEADER_PDF)

    pages = {text[:20]: doc.page_at(b.start) for b, text in zip(doc.blocks, block_texts(doc), strict=True)}
    assert pages == {
        "Dry grass on the eas": 1,
        "Reservoir levels sta": 1,
        "Volunteers from thre": 1,
        "The old mill bridge ": 2,
        "Report smoke to the ": 3,
    }
    continued = doc.text.index("the season, with two volunteers")
    assert doc.page_at(continued) == 2


def test_two_columns_read_column_by_column_and_a_paragraph_runs_on_across_them() -> None:
    (doc,) = read_fixture("2024-09-12-two-column.pdf")

    assert block_texts(doc) == [
        "Berth four reopened on Monday after the crane collapse, with two new cranes from the Vellin yard.",
        "Container traffic is back to two thirds of its usual volume, and the harbour master expects "
        "full service by the end of the month if the weather holds.",
        "Dock workers will receive a safety briefing before every night shift.",
    ]


def test_a_latex_two_column_paper_keeps_its_typeset_hyphenation_joined() -> None:
    (doc,) = read_fixture("latex-two-column.pdf")

    assert "consectetuer adipiscing elit" in doc.text
    assert "\ufffe" not in doc.text and "adip-" not in doc.text


def test_the_date_comes_from_the_file_name_before_the_pdf_creation_date() -> None:
    (doc,) = read_fixture(HEADER_PDF)

    assert doc.meta.date is not None and doc.meta.date.isoformat() == "2024-05-30"
    assert doc.meta.source == "Carrow Fire Service"  # the PDF's author


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("scanned.pdf", NO_TEXT_LAYER),
        ("password.pdf", PASSWORD),
        ("lies-html.pdf", "not a PDF (the file is HTML), though its name ends in .pdf"),
    ],
)
def test_unreadable_pdfs_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(BriefingError) as err:
        read_fixture(name)

    assert err.value.reason == reason


def test_a_long_passage_set_in_a_large_font_is_quoted_not_taken_for_a_heading() -> None:
    from index.formats.pdf import Line, assemble

    big = [
        Line(
            1, f"Large print line {n} of the lead paragraph", 72, 500, 700 - 24 * n, 680 - 24 * n, 18.0, False
        )
        for n in range(6)
    ]
    body = [
        Line(
            1,
            f"Body line {n} in the usual size of the text",
            72,
            500,
            500 - 14 * n,
            490 - 14 * n,
            11.0,
            False,
        )
        for n in range(8)
    ]

    builder = assemble([big + body])

    assert builder.headings == []
    assert builder.text.startswith("Large print line 0 of the lead paragraph Large print line 1")

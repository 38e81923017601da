"""Word: headings from styles, paragraphs, lists, table rows, core properties."""

from __future__ import annotations

import io
import zipfile

import pytest

from index.formats.docx import check_package
from index.parsing import BriefingError
from tests.formats.conftest import block_texts, read_fixture


def test_headings_come_from_styles_and_the_title_from_core_properties() -> None:
    (doc,) = read_fixture("water-restrictions.docx")

    assert doc.meta.title == "Lindenfall water restrictions"
    assert next(b.section for b in doc.blocks) == ("What changes",)
    assert doc.blocks[-1].section == ("What changes", "Reservoir levels")


def test_list_items_are_bullets_and_each_table_row_is_a_passage() -> None:
    (doc,) = read_fixture("water-restrictions.docx")

    kinds = [(b.kind, text) for b, text in zip(doc.blocks, block_texts(doc), strict=True)]
    assert ("bullet", "Public fountains are switched off.") in kinds
    assert [t for k, t in kinds if k == "table"] == [
        "Reservoir | Level | Last year",
        "Upper Linden | 41% | 63%",
        "Fallbrook | 38% | 58%",
    ]


def test_created_date_and_author_become_date_and_source() -> None:
    (doc,) = read_fixture("water-restrictions.docx")

    assert doc.meta.date is not None and doc.meta.date.isoformat() == "2024-08-19"
    assert doc.meta.source == "Lindenfall Water Board"


def test_headers_and_footers_are_not_briefing_text() -> None:
    (doc,) = read_fixture("water-restrictions.docx")

    assert "do not forward" not in doc.text and "Page footer text" not in doc.text


def test_a_docx_that_is_not_a_zip_is_refused() -> None:
    with pytest.raises(BriefingError, match=r"not a Word \.docx file"):
        read_fixture("lies-text.docx")


def test_a_zip_that_would_unpack_to_a_huge_size_is_refused_before_parsing() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<w:document/>")
        z.writestr("word/media/huge.bin", b"\0" * (450 * 1024 * 1024))

    with pytest.raises(BriefingError, match="unpacks to"):
        check_package(buf.getvalue())

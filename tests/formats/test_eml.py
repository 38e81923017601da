"""E-mail: subject, date, sender, link, the HTML body, attachments as briefings of their own."""

from __future__ import annotations

import pytest

from index.parsing import BriefingError, parse_file
from tests.formats.conftest import block_texts, read_fixture


def test_subject_date_sender_and_archive_link_attribute_the_body() -> None:
    body = read_fixture("newsletter.eml")[0]

    assert body.meta.briefing_id == "newsletter"
    assert body.meta.title == "Morning brief: Corvane chip plant opens"
    assert body.meta.date is not None and body.meta.date.isoformat() == "2024-10-15"
    assert body.meta.source == "Corvane Press Office"
    assert body.meta.url == "https://lists.example.org/briefs/2024-10-15"
    assert block_texts(body) == [
        "The Corvane chip plant opened on Tuesday with 1,200 workers on its first shift.",
        "The plant will make sensor chips for car makers and plans a second line in 2026.",
    ]


def test_a_supported_attachment_is_a_briefing_of_its_own_and_others_are_ignored() -> None:
    docs = read_fixture("newsletter.eml")

    assert [d.meta.briefing_id for d in docs] == ["newsletter", "newsletter#water-restrictions.docx"]
    attachment = docs[1]
    assert attachment.meta.path == "newsletter.eml"
    assert attachment.meta.title == "Lindenfall water restrictions"
    assert attachment.meta.date is not None and attachment.meta.date.isoformat() == "2024-10-15"
    assert "Upper Linden | 41% | 63%" in block_texts(attachment)


def test_every_briefing_of_a_message_carries_the_files_hash() -> None:
    docs = read_fixture("newsletter.eml")

    assert len({d.meta.sha256 for d in docs}) == 1


def test_a_file_named_eml_that_is_not_a_message_is_refused() -> None:
    with pytest.raises(BriefingError, match="not an e-mail message"):
        parse_file("note.eml", b"Just some words, no headers at all.\n")


def test_a_message_whose_html_part_has_no_text_is_read_from_its_plain_part() -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"] = "Harbour note"
    msg["From"] = "Harbour Office <office@example.org>"
    msg["Date"] = "Tue, 04 Mar 2025 09:00:00 +0000"
    msg.set_content("The Vellin ferry runs again from Monday after the strike ended.\n")
    msg.add_alternative("<html><body><img src='logo.png'></body></html>", subtype="html")

    (doc,) = parse_file("note.eml", bytes(msg))

    assert block_texts(doc) == ["The Vellin ferry runs again from Monday after the strike ended."]

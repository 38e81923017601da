"""Readable titles for briefings that do not give one."""

from __future__ import annotations

from index.parsing import parse_briefing
from index.titles import TITLE_CHARS, filename_title, lead_title, readable_title


def test_a_file_name_a_person_chose_is_the_title() -> None:
    assert filename_title("2024-03-05-harbour-update.txt") == "Harbour update"


def test_a_machine_made_file_name_is_no_title() -> None:
    assert filename_title("000_457032d09a867f08.txt") is None
    assert filename_title("2024-03-05.txt") is None


def test_the_lead_sentence_names_a_briefing_with_a_machine_made_name() -> None:
    title = readable_title(
        "000_457032d0.txt", "– The harbour reopened after the storm. Ships queued all night."
    )
    assert title == "The harbour reopened after the storm"


def test_a_long_lead_sentence_is_clipped_at_a_clause_or_word_with_an_ellipsis() -> None:
    lead = (
        "The city council of Eastvale voted on Tuesday night, after a long debate about the costs of "
        "the grid, to raise electricity prices by four percent for every household in the region."
    )
    title = lead_title(lead)
    assert title is not None and len(title) <= TITLE_CHARS and title.endswith("…")
    assert lead.startswith(title[:-1])
    assert title[-2] != " " and not title[:-1].endswith(",")


def test_a_lead_without_words_falls_back_to_the_file_name() -> None:
    assert readable_title("000_457032d0.txt", "12:00") == "000_457032d0"


def test_front_matter_title_still_wins_over_content() -> None:
    doc = parse_briefing(
        "000_abcdef0123.md", b"---\ntitle: Port report\n---\n\nThe harbour reopened today.\n"
    )
    assert doc.meta.title == "Port report"

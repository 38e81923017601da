"""Answering: verbatim quotes with attribution, abstention, time, audience, duplicates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from index import search
from index.search import EVERYONE, LOCAL_USER, PassageFilter, Viewer, lexical_terms
from index.service import BriefingService
from tests.conftest import make_service
from tests.fakes import FakeEmbedder


def test_every_quote_is_verbatim_at_its_path_and_offsets(service: BriefingService, corpus: Path) -> None:
    answer = service.ask("What did Iran supply to Russia?", k=5)
    assert answer.quotes
    for q in answer.quotes:
        raw = (corpus / q.attribution.path).read_text(encoding="utf-8")
        assert raw[q.start : q.end] == q.text


def test_the_answer_carries_title_date_section_and_paragraph(service: BriefingService) -> None:
    answer = service.ask("What did the Bank of Valmora do with its policy rate?")
    top = answer.quotes[0].attribution
    assert top.briefing_id == "2024-12-12-bank-of-valmora-rate-decision"
    assert top.title == "Bank of Valmora cuts policy rate to 4.50%"
    assert top.date == date(2024, 12, 12)
    assert top.section and top.paragraph >= 1


def test_an_off_topic_question_abstains(service: BriefingService) -> None:
    answer = service.ask("What is a good recipe for sourdough bread?")
    assert answer.abstained
    assert all(q.strength == "weak" for q in answer.quotes)


def test_since_filters_out_older_briefings(service: BriefingService) -> None:
    answer = service.ask("Kestrelbay transit strike pay offer guild", since=date(2024, 9, 1), k=5)
    assert answer.quotes
    assert all(q.attribution.date and q.attribution.date >= date(2024, 9, 1) for q in answer.quotes)


def test_time_words_in_the_question_filter_by_date(service: BriefingService) -> None:
    answer = service.ask("Will workers receive a 6.5% pay rise over two years, since September 2024?", k=5)
    assert not answer.abstained
    assert all(q.attribution.date and q.attribution.date >= date(2024, 9, 1) for q in answer.quotes)
    assert any("2024-09-01" in n for n in answer.notes)


def test_when_nothing_in_the_asked_window_answers_the_closest_are_shown_and_said_so(
    service: BriefingService,
) -> None:
    answer = service.ask("What did Iran supply to Russia since September 2026?")
    assert answer.quotes[0].briefing_id == "000_457032d09a867f08"
    assert any("showing matches from any date" in n for n in answer.notes)


def test_several_dated_answers_are_ordered_newest_first(service: BriefingService) -> None:
    answer = service.ask("What is the latest on the Kestrelbay transit strike?", k=5)
    strong_dates = [
        q.attribution.date for q in answer.quotes if q.strength == "strong" and q.attribution.date
    ]
    if len(set(strong_dates)) > 1:
        assert strong_dates == sorted(strong_dates, reverse=True)
        assert answer.timeline


def test_a_briefing_for_moderators_is_never_shown_in_a_public_answer(service: BriefingService) -> None:
    question = "Meridale Health ransomware attack Glasswing patient records"
    private = service.ask(question, viewer=LOCAL_USER)
    assert private.quotes[0].briefing_id == "2025-02-06-meridale-health-ransomware"
    public = service.ask(question, viewer=EVERYONE, k=10)
    assert all(q.briefing_id != "2025-02-06-meridale-health-ransomware" for q in public.quotes)
    member = service.ask(question, viewer=Viewer(roles=frozenset({"Members"})), k=10)
    assert all(q.briefing_id != "2025-02-06-meridale-health-ransomware" for q in member.quotes)


def test_restated_paragraphs_are_shown_once_with_also_in(corpus: Path, tmp_path: Path) -> None:
    text = "The harbour authority confirmed that berth seven will stay closed for three more weeks.\n"
    (corpus / "2024-10-01-harbour-a.txt").write_text("Harbour A\n\n" + text)
    (corpus / "2024-10-02-harbour-b.txt").write_text("Harbour B\n\n" + text)
    svc = make_service(corpus, tmp_path / "ix", FakeEmbedder())
    svc.reindex()
    answer = svc.ask("How long will berth seven stay closed?", k=5)
    hits = [q for q in answer.quotes if q.text == text.strip()]
    assert len(hits) == 1
    assert len(hits[0].also_in) == 1


def test_a_briefing_filter_keeps_quotes_to_that_briefing(service: BriefingService) -> None:
    bid = "transit/2024-07-22-kestrelbay-transit-strike-begins"
    answer = service.ask("pay offer", briefing_id=bid, k=5)
    assert answer.quotes and all(q.briefing_id == bid for q in answer.quotes)


def test_the_answer_json_has_the_contract_keys(service: BriefingService) -> None:
    data = service.ask("What did Iran supply to Russia?").to_json()
    assert {"question", "abstained", "quotes", "index_version"} <= set(data)
    quote = data["quotes"][0]
    assert {"text", "briefing_id", "title", "date", "section", "paragraph", "path", "url", "score"} <= set(
        quote
    )
    assert isinstance(quote["paragraph"], int) and isinstance(data["abstained"], bool)


def test_a_large_index_leaves_its_commonest_words_out_of_the_lexical_search() -> None:
    df = {"president": 40_000, "tariffs": 900}
    assert lexical_terms(["president", "tariffs"], df, 150_000) == ["tariffs"]


def test_a_small_index_searches_every_word() -> None:
    df = {"president": 4_000, "tariffs": 90}
    assert lexical_terms(["president", "tariffs"], df, 15_000) == ["president", "tariffs"]


def test_a_question_of_common_words_only_keeps_them_all() -> None:
    df = {"president": 40_000, "said": 60_000}
    assert lexical_terms(["president", "said"], df, 150_000) == ["president", "said"]


def test_a_wide_filter_finds_the_same_lexical_hits_as_a_row_by_row_search(
    service: BriefingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = service.searcher().index
    where = PassageFilter(date_from=date(2024, 9, 1))
    terms = ["transit", "strike", "pay", "guild", "rate"]
    assert len(index.allowed(where)) > search.RESTRICT_ROWS

    wide = index.lexical_search(terms, 5, where=where)
    monkeypatch.setattr(search, "RESTRICT_ROWS", 10**6)
    row_by_row = index.lexical_search(terms, 5, where=where)

    assert wide and [v for v, _ in wide] == [v for v, _ in row_by_row]

"""Quotes keep rank order whatever their labels; the answer abstains only when no quote is strong."""

from __future__ import annotations

from datetime import date

import pytest

from index.rerank import Candidate
from index.search import Query, Searcher
from index.service import BriefingService

STRONG, WEAK = "strong", "weak"


def _ranked(searcher: Searcher, labels: list[str], *, distinct_dates: bool = False) -> list[Candidate]:
    """Real candidates of the sample index, ranked as given and made confident; a "weak" one's
    highlighted sentence lacks what was asked (so it cannot be strong however confident)."""
    pool = searcher.rank("What is the latest on the Kestrelbay transit strike pay offer and the harbour?")
    if distinct_dates:
        by_date: dict[date, Candidate] = {}
        for c in pool:
            meta = searcher.index.briefing(c.stored.passage.briefing_id)
            if meta is not None and meta.date is not None:
                by_date.setdefault(meta.date, c)
        # Oldest first, so that "latest" has to reorder them.
        pool = [by_date[d] for d in sorted(by_date)]
    chosen = pool[: len(labels)]
    assert len(chosen) == len(labels)
    for cand, label in zip(chosen, labels, strict=True):
        cand.confidence = 0.9
        cand.features["type_ok_sentence"] = 1.0 if label == STRONG else 0.0
    return chosen


def _answer(service: BriefingService, question: str, ranked: list[Candidate]) -> list[tuple[str, str]]:
    searcher = service.searcher()
    searcher._candidates = lambda *args, **kwargs: list(ranked)  # type: ignore[method-assign]
    answer = searcher.answer(Query(question, k=len(ranked), today=date(2025, 3, 1)))
    return [(q.passage_id, q.strength) for q in answer.quotes]


def test_a_weak_best_ranked_quote_stays_first(service: BriefingService) -> None:
    ranked = _ranked(service.searcher(), [WEAK, STRONG, WEAK])

    shown = _answer(service, "How many workers are on strike?", ranked)

    assert shown == [
        (ranked[0].stored.passage.passage_id, WEAK),
        (ranked[1].stored.passage.passage_id, STRONG),
        (ranked[2].stored.passage.passage_id, WEAK),
    ]


def test_one_strong_quote_anywhere_answers(service: BriefingService) -> None:
    searcher = service.searcher()
    ranked = _ranked(searcher, [WEAK, WEAK, STRONG])
    searcher._candidates = lambda *args, **kwargs: list(ranked)  # type: ignore[method-assign]

    answer = searcher.answer(Query("How many workers are on strike?", k=3))

    assert not answer.abstained


def test_no_strong_quote_at_all_abstains(service: BriefingService) -> None:
    searcher = service.searcher()
    ranked = _ranked(searcher, [WEAK, WEAK, WEAK])
    searcher._candidates = lambda *args, **kwargs: list(ranked)  # type: ignore[method-assign]

    answer = searcher.answer(Query("How many workers are on strike?", k=3))

    assert answer.abstained
    assert [q.strength for q in answer.quotes] == [WEAK, WEAK, WEAK]


def test_latest_puts_strong_quotes_newest_first_and_weak_ones_keep_their_places(
    service: BriefingService,
) -> None:
    searcher = service.searcher()
    ranked = _ranked(searcher, [WEAK, STRONG, STRONG, WEAK, STRONG], distinct_dates=True)

    shown = _answer(service, "What is the latest on it?", ranked)

    assert [s for _, s in shown] == [WEAK, STRONG, STRONG, WEAK, STRONG]
    assert shown[0][0] == ranked[0].stored.passage.passage_id
    assert shown[3][0] == ranked[3].stored.passage.passage_id
    strong_ids = [pid for pid, s in shown if s == STRONG]
    newest_first = [c.stored.passage.passage_id for c in (ranked[4], ranked[2], ranked[1])]
    assert strong_ids == newest_first


@pytest.mark.parametrize("question", ["What is the latest on it?", "What happened?"])
def test_the_timeline_names_the_dates_of_strong_quotes_only(service: BriefingService, question: str) -> None:
    searcher = service.searcher()
    ranked = _ranked(searcher, [WEAK, STRONG, STRONG], distinct_dates=True)
    searcher._candidates = lambda *args, **kwargs: list(ranked)  # type: ignore[method-assign]

    answer = searcher.answer(Query(question, k=3, today=date(2025, 3, 1)))

    strong_dates = sorted((_date(searcher, c) for c in ranked[1:]), reverse=True)
    assert answer.timeline
    timeline = next(n for n in answer.notes if "Timeline" in n)
    assert timeline.endswith("Timeline: " + ", ".join(d.isoformat() for d in strong_dates) + ".")
    assert _date(searcher, ranked[0]).isoformat() not in timeline


def _date(searcher: Searcher, cand: Candidate) -> date:
    meta = searcher.index.briefing(cand.stored.passage.briefing_id)
    assert meta is not None and meta.date is not None
    return meta.date

"""'What's new?' questions get the newest briefings, not a search."""

from __future__ import annotations

from datetime import date

import pytest

from index.search import EVERYONE, Viewer
from index.service import BriefingService
from index.whatsnew import is_whats_new

TODAY = date(2025, 3, 1)


@pytest.mark.parametrize(
    "question",
    ["What's new this week?", "what is the most recent briefing about?", "latest briefings", "Any updates?"],
)
def test_questions_that_name_no_topic_ask_what_is_new(question: str) -> None:
    assert is_whats_new(question, TODAY) is not None


@pytest.mark.parametrize(
    "question", ["What is the latest on the transit strike?", "hi", "?", "What did Iran supply to Russia?"]
)
def test_questions_with_a_topic_or_no_time_word_are_ordinary_questions(question: str) -> None:
    assert is_whats_new(question, TODAY) is None


def test_the_digest_lists_the_newest_briefings_with_their_key_takeaways(service: BriefingService) -> None:
    digest = service.whats_new("What's new?", viewer=Viewer())

    assert digest is not None
    dates = [i.meta.date or i.meta.added for i in digest.items]
    assert dates == sorted(dates, reverse=True) and len(digest.items) == 5
    for item in digest.items:
        assert item.takeaways
        text = (service.config.corpus_dir / item.meta.path).read_text(encoding="utf-8")
        assert all(p.text in text for p in item.takeaways)


def test_the_digest_quotes_the_key_takeaways_section_when_there_is_one(service: BriefingService) -> None:
    digest = service.whats_new("latest briefings", viewer=Viewer(), n=20)

    assert digest is not None
    user = next(i for i in digest.items if i.meta.briefing_id == "000_457032d09a867f08")
    assert all(p.section[:1] == ("Key Takeaways",) for p in user.takeaways)


def test_the_digest_never_lists_a_briefing_the_asker_may_not_see(service: BriefingService) -> None:
    public = service.whats_new("What's new?", viewer=EVERYONE, n=20)
    private = service.whats_new("What's new?", viewer=Viewer(is_moderator=True), n=20)

    assert public is not None and private is not None
    restricted = "2025-02-06-meridale-health-ransomware"
    assert restricted not in {i.meta.briefing_id for i in public.items}
    assert restricted in {i.meta.briefing_id for i in private.items}


def test_a_window_with_no_briefing_says_so_and_shows_the_newest(service: BriefingService) -> None:
    digest = service.whats_new("What's new this week?", viewer=EVERYONE)

    assert digest is not None and digest.items
    assert digest.notes and "No briefing is dated" in digest.notes[0]


def test_a_window_keeps_only_the_briefings_dated_in_it(service: BriefingService) -> None:
    digest = service.whats_new("Any updates since February?", viewer=EVERYONE, n=20)

    assert digest is not None
    assert all((i.meta.date or i.meta.added or date.min) >= date(2025, 2, 1) for i in digest.items)
    assert digest.notes == ["Briefings dated 2025-02-01 or later, newest first."]

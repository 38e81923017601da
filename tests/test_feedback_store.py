"""The feedback store: retention, anonymous votes, which questions count as gaps."""

from __future__ import annotations

from pathlib import Path

from bot.feedback_store import FeedbackStore, ShownQuote

DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def _store(tmp_path: Path, clock: Clock, keep_days: int = 90) -> FeedbackStore:
    return FeedbackStore(tmp_path / "feedback.sqlite3", keep_days, clock=clock)


def test_questions_and_votes_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    clock = Clock()
    store = _store(tmp_path, clock, keep_days=30)
    store.record_question("old", "an old question", "abstained", public=True)
    store.vote("old", 1, "down", "missing")
    clock.t += 31 * DAY

    store.record_question("new", "a new question", "abstained", public=True)

    assert store.question("old") is None and store.question("new") is not None
    assert store.vote("old", 1, "up") is False  # gone with its question


def test_gaps_are_unanswered_questions_and_answers_with_a_thumbs_down(tmp_path: Path) -> None:
    store = _store(tmp_path, Clock())
    store.record_question("a", "answered and liked", "answered", public=True)
    store.vote("a", 1, "up")
    store.record_question("b", "answered and disliked", "answered", public=True)
    store.vote("b", 2, "down", "outdated")
    store.record_question("c", "no confident answer", "abstained", public=True)

    rows = store.gaps(0, include_private=True, may_see=lambda audience: True)

    assert [r.question for r in rows] == ["answered and disliked", "no confident answer"]
    assert rows[0].reasons == ["outdated"]


def test_private_questions_and_restricted_quotes_stay_out_of_a_public_report(tmp_path: Path) -> None:
    store = _store(tmp_path, Clock())
    store.record_question("p", "asked privately", "abstained", public=False)
    store.record_question(
        "r",
        "answered from a restricted briefing",
        "answered",
        public=True,
        audiences=["moderators"],
        shown=[ShownQuote("abc", "secret", "1")],
    )
    store.vote("r", 1, "down")
    store.record_question("o", "open question", "abstained", public=True)

    public = store.gaps(0, include_private=False, may_see=lambda audience: "all" in audience)
    moderator = store.gaps(0, include_private=True, may_see=lambda audience: True)

    assert [r.question for r in public] == ["open question"]
    assert len(moderator) == 3


def test_one_vote_per_person_and_answer(tmp_path: Path) -> None:
    store = _store(tmp_path, Clock())
    store.record_question("a", "q", "answered", public=True)
    store.vote("a", 7, "up")
    store.vote("a", 7, "down", "wrong")

    (row,) = store.gaps(0, include_private=True, may_see=lambda audience: True)
    assert (row.ups, row.downs, row.reasons) == (0, 1, ["wrong"])

"""Question-level signals for honest abstention: words the corpus never uses, and names that the
matching passage or its briefing never mentions (chat is lower case)."""

from __future__ import annotations

import pytest

from index.question_signals import (
    any_unknown,
    dense_peak,
    missing_share,
    personal,
    question_names,
    top_briefing_share,
    unknown_share,
)
from index.service import BriefingService
from index.store import query_terms

TEXTS = [
    "The Corvane plant in Tessly Park opened on Monday. Officials said the plant employs 900 people.",
    "Pyongyang has sent troops to Russia, officials said. Analysts expect more in the spring.",
]


def test_words_the_corpus_never_uses_count_towards_unknown() -> None:
    df = {"guest": 40, "wifi": 0, "password": 0}
    assert unknown_share(["guest", "wifi", "password"], df, 10_000) > 0.6


def test_a_question_in_the_corpus_vocabulary_has_no_unknown_words() -> None:
    assert unknown_share(["troops", "russia"], {"troops": 12, "russia": 80}, 10_000) == 0.0


def test_rare_unknown_words_weigh_more_than_common_known_ones() -> None:
    df = {"plant": 3000, "mamaroo": 0}
    assert unknown_share(["plant", "mamaroo"], df, 10_000) > 0.5


def test_one_word_the_corpus_never_uses_makes_the_question_unknown() -> None:
    assert any_unknown(["guest", "wifi"], {"guest": 40, "wifi": 0}) == 1.0
    assert any_unknown(["troops", "russia"], {"troops": 12, "russia": 80}) == 0.0


def test_no_content_words_means_nothing_unknown() -> None:
    assert unknown_share([], {}, 10_000) == 0.0


def test_a_lower_case_word_the_briefings_write_with_a_capital_is_a_name() -> None:
    question = "how many people work at the corvane plant?"
    assert question_names(question, query_terms(question), TEXTS) == {"corvane"}


def test_a_capital_at_the_start_of_a_sentence_does_not_make_a_name() -> None:
    # "Officials" and "Analysts" open sentences only; mid-sentence "officials" is lower case.
    question = "what did officials and analysts say?"
    assert question_names(question, query_terms(question), TEXTS) == set()


def test_a_capitalised_word_in_the_question_is_a_name_even_if_the_briefings_lack_it() -> None:
    question = "how many Leopard tanks went to Russia?"
    assert question_names(question, query_terms(question), TEXTS) == {"leopard", "russia"}


def test_numbers_are_not_names() -> None:
    question = "does corvane employ 900 people?"
    assert question_names(question, query_terms(question), TEXTS) == {"corvane"}


@pytest.mark.parametrize(
    ("text", "share"),
    [
        ("Corvane opened a plant in Tessly Park.", 0.0),
        ("Corvane opened a plant.", 0.5),
        ("A plant opened.", 1.0),
    ],
)
def test_missing_share_counts_names_the_text_never_mentions(text: str, share: float) -> None:
    assert missing_share({"corvane", "tessly"}, text) == share


def test_without_names_nothing_is_missing() -> None:
    assert missing_share(set(), "anything") == 0.0


def test_every_candidate_carries_the_question_signals(service: BriefingService) -> None:
    candidates = service.searcher().rank("what's the guest wifi password at corvane?")
    assert candidates
    assert all(c.features["unknown"] > 0.3 for c in candidates)
    assert all(c.features["unknown_any"] == 1.0 for c in candidates)
    assert all(c.features["n_names"] >= 1 for c in candidates)


def test_a_passage_without_the_asked_name_scores_it_missing(service: BriefingService) -> None:
    candidates = service.searcher().rank("when did the corvane plant open?")
    with_name = [c for c in candidates if "corvane" in c.stored.passage.text.lower()]
    without = [
        c
        for c in candidates
        if "corvane" not in (c.stored.passage.text + c.stored.passage.briefing_id).lower()
    ]
    assert with_name and without
    assert all(c.features["names_missing"] < 1 for c in with_name)
    assert all(c.features["names_missing"] > 0 for c in without)


def test_a_letter_that_lower_cases_to_two_does_not_shift_the_names() -> None:
    question = "who runs corvane?"
    texts = ["İstanbul officials met the Corvane board, and Corvane said so."]
    assert question_names(question, query_terms(question), texts) == {"corvane"}


def test_one_close_passage_above_many_alike_is_a_peak() -> None:
    assert dense_peak([0.7, 0.4, 0.4, 0.4]) == pytest.approx(0.3)
    assert dense_peak([0.42, 0.41, 0.4, 0.41]) < 0.02


def test_a_single_result_has_no_peak() -> None:
    assert dense_peak([0.7]) == 0.0


def test_top_briefing_share_counts_the_first_results_from_the_first_ones_briefing() -> None:
    assert top_briefing_share(["a", "a", "b", "a"], k=4) == 0.75
    assert top_briefing_share([], k=4) == 0.0


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how many vacation days do I have left?", 1.0),
        ("who's on call for our team?", 1.0),
        ("how many troops are in russia?", 0.0),
    ],
)
def test_a_question_about_the_asker_or_the_team_is_personal(question: str, expected: float) -> None:
    assert personal(question) == expected

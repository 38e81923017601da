"""What a question asks for, whether a sentence holds it, and which sentence is highlighted."""

from __future__ import annotations

import numpy as np
import pytest

from index.answer_type import Asked, asked_for, has_answer_type
from index.rerank import answer_sentence


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("how many DPRK soldiers are in russia?", Asked.NUMBER),
        ("Fiona death toll?", Asked.NUMBER),
        ("when do we hear from the central bank again?", Asked.DATE),
        ("who's replacing the boss?", Asked.NAME),
        ("which avs guy took home the playoff MVP?", Asked.NAME),
        ("where did bennifer tie the knot?", Asked.PLACE),
        ("why did the plant open late?", Asked.OTHER),
        ("how much did the new air force one cost?", Asked.MONEY),
        ("how much prize money did the winner take home?", Asked.MONEY),
        ("what's corvane's annual revenue?", Asked.MONEY),
        ("what will the new contract cost the city annually?", Asked.MONEY),
        ("how much of the sun is made up of oxygen?", Asked.NUMBER),
        ("when will tickets cost more?", Asked.DATE),
    ],
)
def test_the_question_word_says_what_is_asked(question: str, asked: Asked) -> None:
    assert asked_for(question) is asked


def test_a_number_question_needs_a_number_in_the_sentence() -> None:
    assert has_answer_type(Asked.NUMBER, "These soldiers, estimated at around 10,000, wear Russian uniforms.")
    assert not has_answer_type(Asked.NUMBER, "The soldiers wear Russian uniforms and use Russian gear.")


@pytest.mark.parametrize(
    "sentence",
    [
        "The jet will cost $5.3 billion.",
        "Buyers save about 900 bucks a year.",
        "It loses 18.4 million crowns a year.",
    ],
)
def test_a_money_question_is_answered_by_an_amount_of_money(sentence: str) -> None:
    assert has_answer_type(Asked.MONEY, sentence)


def test_a_money_question_is_not_answered_by_any_number() -> None:
    assert not has_answer_type(Asked.MONEY, "The first two of 4 planes arrive in 2027.")


def test_a_who_question_needs_a_name_other_than_the_first_word() -> None:
    assert has_answer_type(Asked.NAME, "Chief executive Tomas Refhaug told guests the wafers had started.")
    assert not has_answer_type(Asked.NAME, "The delay was blamed on late deliveries of equipment.")


def test_a_when_question_needs_a_time() -> None:
    assert has_answer_type(Asked.DATE, "The casualty toll peaked in September 2024.")
    assert not has_answer_type(Asked.DATE, "The casualty toll was immense.")


def test_anything_answers_other_questions() -> None:
    assert has_answer_type(Asked.OTHER, "Anything at all.")


TEXT = "Troops wear Russian uniforms near the border. Around 10,000 of them are in Russia. It rained."
SENTENCES = ((0, 45), (46, 82), (83, 92))


def test_the_highlight_moves_to_a_nearly_as_close_sentence_that_holds_the_number() -> None:
    cos = np.array([0.62, 0.59, 0.1], dtype=np.float32)
    assert answer_sentence(TEXT, SENTENCES, cos, Asked.NUMBER, {}) == (46, 82)


def test_the_highlight_stays_on_the_best_sentence_when_the_other_is_far_behind() -> None:
    cos = np.array([0.70, 0.40, 0.1], dtype=np.float32)
    assert answer_sentence(TEXT, SENTENCES, cos, Asked.NUMBER, {}) == (0, 45)


def test_a_who_question_about_a_role_needs_the_role_named() -> None:
    question = "Who is the CEO of Corvane?"
    assert not has_answer_type(Asked.NAME, "The plant stands at the Tessly Park industrial estate.", question)
    assert has_answer_type(Asked.NAME, "Chief executive Tomas Refhaug told guests.", question)


@pytest.mark.parametrize("sims", [(0.62, 0.59), (0.47, 0.18)])
def test_the_sentence_naming_the_role_holder_is_highlighted_however_far_behind(
    sims: tuple[float, float],
) -> None:
    text = "Corvane opened its plant at Tessly Park. Chief executive Tomas Refhaug told guests."
    sentences = [(0, 40), (41, len(text))]
    question = "Who is the CEO of Corvane?"
    cos = np.array(sims, dtype=np.float32)
    assert answer_sentence(text, sentences, cos, asked_for(question), {}, question) == sentences[1]

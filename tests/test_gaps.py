"""Grouping unanswered questions by topic (vectors of the real model)."""

from __future__ import annotations

import numpy as np
import pytest

from index.embedder import SentenceTransformerEmbedder
from index.gaps import group_questions
from tests.fakes import FakeEmbedder

FERRY = [
    "When does the ferry to Tessly run on Sundays?",
    "Is there a Sunday ferry timetable for Tessly?",
    "What time is the last ferry to Tessly on Sunday?",
]
PARKING = ["Where can staff park at the new office?", "Is there parking for staff at the new office?"]
WIFI = ["What is the guest wifi password?"]


def test_no_questions_make_no_topics() -> None:
    assert group_questions([], np.zeros((0, 4))) == []


def test_one_question_is_one_topic() -> None:
    emb = FakeEmbedder()
    (topic,) = group_questions(WIFI, emb.encode(WIFI))
    assert topic.members == [0] and topic.count == 1


@pytest.mark.model
def test_paraphrases_share_a_topic_and_other_subjects_do_not() -> None:
    texts = [FERRY[0], PARKING[0], FERRY[1], WIFI[0], PARKING[1], FERRY[2]]
    vectors = SentenceTransformerEmbedder().encode(texts)

    topics = group_questions(texts, vectors)

    assert [sorted(t.members) for t in topics] == [[0, 2, 5], [1, 4], [3]]
    assert "ferry" in topics[0].keywords and "tessly" in topics[0].keywords
    assert "office" in topics[1].keywords


def test_topics_are_ordered_by_size_then_by_the_first_question() -> None:
    texts = ["budget review", "harbour cranes", "harbour cranes age", "harbour cranes wind"]
    vecs = np.array([[1, 0], [0, 1], [0.1, 0.995], [0.05, 0.998]], dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)

    topics = group_questions(texts, vecs)

    assert [sorted(t.members) for t in topics] == [[1, 2, 3], [0]]
    assert topics[0].keywords[:2] == ["harbour", "cranes"]

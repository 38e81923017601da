"""Pseudo-relevance feedback: the question's vector moved towards its first dense results."""

from __future__ import annotations

import numpy as np

from index.rerank import RerankOptions, feedback_cosines


def _unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


QUESTION = _unit(1, 0, 0)
VECTORS = np.vstack([_unit(1, 1, 0), _unit(1, 0.9, 0.1), _unit(0, 1, 0), _unit(1, 0, 1)])


def test_without_feedback_it_is_the_plain_cosine() -> None:
    out = feedback_cosines(QUESTION, VECTORS, [0, 1, 2, 3], RerankOptions(prf_k=0))
    assert np.allclose(out, VECTORS @ QUESTION)


def test_a_passage_like_the_first_results_gains_on_one_like_the_question_alone() -> None:
    plain = VECTORS @ QUESTION
    moved = feedback_cosines(QUESTION, VECTORS, [0, 1, None, None], RerankOptions(prf_k=2, prf_alpha=1.0))
    # Passage 2 shares the first results' second dimension; passage 3 only the question's.
    assert moved[2] - plain[2] > 0.2
    assert moved[3] < plain[3]


def test_only_ranked_dense_results_feed_back() -> None:
    ranks: list[int | None] = [None, None, 0, None]
    moved = feedback_cosines(QUESTION, VECTORS, ranks, RerankOptions(prf_k=5, prf_alpha=1.0))
    expected = QUESTION + VECTORS[2]
    assert np.allclose(moved, VECTORS @ (expected / np.linalg.norm(expected)))

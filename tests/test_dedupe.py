"""A Key Takeaways bullet and the paragraph that states the same fact in more detail do not
both take places in the first three quotes."""

from __future__ import annotations

import numpy as np

from index.dedupe import demote_restated_takeaways
from index.models import Passage
from index.rerank import Candidate
from index.store import StoredPassage


def _cand(vid: int, kind: str, section: str, vec: list[float], briefing: str = "b1") -> Candidate:
    text = f"passage {vid}"
    p = Passage(f"p{vid}", vid, briefing, vid, vid, vid, "", (section,), 0, len(text), text, "h", kind)
    v = np.array(vec, dtype=np.float32)
    v /= np.linalg.norm(v)
    return Candidate(StoredPassage(p, "e", v.reshape(1, -1)), v, {})


def test_the_bullet_moves_below_the_paragraph_that_restates_it() -> None:
    bullet = _cand(1, "bullet", "Key Takeaways", [1, 0.1, 0])
    body = _cand(2, "paragraph", "Shifting Tactics", [1, 0.2, 0])
    other = [_cand(i, "paragraph", "Other", [0, 0.3, 1], "b2") for i in (3, 4)]
    order = demote_restated_takeaways([[bullet], [body], [other[0]], [other[1]]])
    assert [g[0].stored.passage.vid for g in order] == [2, 3, 4, 1]


def test_a_bullet_about_another_fact_keeps_its_place() -> None:
    bullet = _cand(1, "bullet", "Key Takeaways", [1, 0, 0])
    body = _cand(2, "paragraph", "Shifting Tactics", [0, 1, 0])
    order = demote_restated_takeaways([[bullet], [body]])
    assert [g[0].stored.passage.vid for g in order] == [1, 2]


def test_a_bullet_from_another_briefing_keeps_its_place() -> None:
    bullet = _cand(1, "bullet", "Key Takeaways", [1, 0.1, 0], "b1")
    body = _cand(2, "paragraph", "Shifting Tactics", [1, 0.2, 0], "b2")
    order = demote_restated_takeaways([[bullet], [body]])
    assert [g[0].stored.passage.vid for g in order] == [1, 2]

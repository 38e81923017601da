"""Near-duplicate passages (the same paragraph restated in several briefings) shown once, and
Key Takeaways bullets kept from crowding out the paragraph that states the same fact."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from index.rerank import Candidate

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

SAME_VECTOR = 0.95  # cosine between two passages' vectors
SAME_WORDS = 0.8  # Jaccard overlap of their word sets


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def is_near_duplicate(a: Candidate, b: Candidate, cosine: float | None = None) -> bool:
    """Same text, or vectors at ``SAME_VECTOR`` with ``SAME_WORDS`` of their words shared
    (``cosine``, when the caller has it, saves computing it again)."""
    if a.stored.passage.content_hash == b.stored.passage.content_hash:
        return True
    if (float(a.vector @ b.vector) if cosine is None else cosine) < SAME_VECTOR:
        return False
    wa, wb = _words(a.stored.passage.text), _words(b.stored.passage.text)
    if not wa or not wb:
        return False
    return len(wa & wb) / len(wa | wb) >= SAME_WORDS


def collapse_duplicates(candidates: Sequence[Candidate]) -> list[list[Candidate]]:
    """Group ranked candidates: each group is a best passage followed by its restatements."""
    if not candidates:
        return []
    # All cosines in one product: a question has ~120 candidates, so thousands of pairs.
    vectors = np.stack([c.vector for c in candidates])
    cosines = vectors @ vectors.T
    groups: list[list[int]] = []
    leads: list[int] = []  # each group's first candidate, in group order
    by_hash: dict[str, int] = {}  # content hash -> first group led by that text
    for i, cand in enumerate(candidates):
        # Only groups whose lead has the same text or a close vector can take it: check those,
        # in group order, rather than every group.
        close = np.flatnonzero(cosines[leads, i] >= SAME_VECTOR).tolist() if leads else []
        same = by_hash.get(cand.stored.passage.content_hash)
        for g in sorted({*close, *([same] if same is not None else [])}):
            if is_near_duplicate(candidates[leads[g]], cand, float(cosines[leads[g], i])):
                groups[g].append(i)
                break
        else:
            by_hash.setdefault(cand.stored.passage.content_hash, len(groups))
            groups.append([i])
            leads.append(i)
    return [[candidates[i] for i in group] for group in groups]


TAKEAWAY_SAME_FACT = 0.6  # cosine of a takeaway bullet with a sentence of a body paragraph


def is_takeaway(cand: Candidate) -> bool:
    p = cand.stored.passage
    return p.kind == "bullet" and "takeaway" in p.section_label.lower()


def restates(bullet: Candidate, body: Candidate) -> bool:
    """A Key Takeaways bullet that sums up what a paragraph of the same briefing says."""
    if bullet.stored.passage.briefing_id != body.stored.passage.briefing_id or is_takeaway(body):
        return False
    sentences = body.stored.sentence_vectors
    vectors = sentences if sentences is not None and len(sentences) else body.vector.reshape(1, -1)
    return float(np.max(vectors @ bullet.vector)) >= TAKEAWAY_SAME_FACT


def demote_restated_takeaways(groups: list[list[Candidate]], top: int = 3) -> list[list[Candidate]]:
    """A takeaway bullet and the body paragraph stating the same fact in more detail do not
    both take places in the first ``top``: the bullet moves down, just past them."""
    head = groups[:top]
    demoted = [g for g in head if is_takeaway(g[0]) and any(restates(g[0], o[0]) for o in head if o is not g)]
    if not demoted:
        return groups
    kept = [g for g in groups if not any(g is d for d in demoted)]
    return kept[:top] + demoted + kept[top:]

"""Near-duplicate passages (the same paragraph restated in several briefings) shown once."""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.rerank import Candidate

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

SAME_VECTOR = 0.95  # cosine between two passages' vectors
SAME_WORDS = 0.8  # Jaccard overlap of their word sets


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def is_near_duplicate(a: Candidate, b: Candidate) -> bool:
    if a.stored.passage.content_hash == b.stored.passage.content_hash:
        return True
    if float(a.vector @ b.vector) < SAME_VECTOR:
        return False
    wa, wb = _words(a.stored.passage.text), _words(b.stored.passage.text)
    if not wa or not wb:
        return False
    return len(wa & wb) / len(wa | wb) >= SAME_WORDS


def collapse_duplicates(candidates: Sequence[Candidate]) -> list[list[Candidate]]:
    """Group ranked candidates: each group is a best passage followed by its restatements."""
    groups: list[list[Candidate]] = []
    for cand in candidates:
        for group in groups:
            if is_near_duplicate(group[0], cand):
                group.append(cand)
                break
        else:
            groups.append([cand])
    return groups

"""Coverage gaps: unanswered or disliked questions grouped by topic.

Questions are grouped by clustering their vectors (the same model that indexes the briefings):
average-linkage agglomerative clustering on cosine distance, cut at a fixed distance, so the
grouping is deterministic and needs no number of topics up front. Knows nothing of Discord.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from index.store import query_terms

# Questions closer than this (cosine distance, average over the pair of groups) share a topic.
# With MiniLM, paraphrased questions in tests/test_gaps.py are 0.06-0.13 apart and questions on
# other subjects 0.7-1.07: the cut sits between them (set by hand, not tuned on a data set).
TOPIC_DISTANCE = 0.55
KEYWORDS = 3
# Question words that say nothing about the topic.
_FILLER = frozenset({"tell", "know", "anyone", "please", "thanks", "get", "got", "say", "said", "like"})


@dataclass
class Topic:
    """Questions on one subject: ``members`` index the input, the most central first."""

    members: list[int]
    keywords: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def representative(self) -> int:
        return self.members[0]


def group_questions(
    texts: Sequence[str], vectors: np.ndarray, distance: float = TOPIC_DISTANCE
) -> list[Topic]:
    """Topics of ``texts`` (vectors: one L2-normalised row each), largest first; ties by first asked."""
    n = len(texts)
    if n == 0:
        return []
    vecs = np.asarray(vectors, dtype=np.float64)
    if n == 1:
        labels = np.array([1])
    else:
        # Cosine distance on unit vectors; clipped so rounding never makes it negative.
        tree = linkage(vecs, method="average", metric="cosine")
        tree[:, 2] = np.clip(tree[:, 2], 0.0, None)
        labels = fcluster(tree, t=distance, criterion="distance")
    topics: list[Topic] = []
    for label in dict.fromkeys(labels.tolist()):
        members = [i for i in range(n) if labels[i] == label]
        centre = vecs[members].mean(axis=0)
        # The most central question first: it stands for the topic.
        members.sort(key=lambda i: (-float(vecs[i] @ centre), i))
        topics.append(Topic(members, _keywords([texts[i] for i in members])))
    topics.sort(key=lambda t: (-t.count, min(t.members)))
    return topics


def _keywords(texts: Sequence[str]) -> list[str]:
    """The content words most questions of a topic share (each counted once a question)."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        for term in query_terms(text):
            if term in _FILLER or term.isdigit():
                continue
            counts[term] += 1
            first.setdefault(term, i)
    ranked = sorted(counts, key=lambda t: (-counts[t], first[t]))
    return ranked[:KEYWORDS]

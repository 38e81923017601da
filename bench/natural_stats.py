"""Figures about the natural-question set itself: counts by kind and split, and how many of a
question's content words occur in its gold paragraph (the set must stay under 0.35).

    python bench/natural_stats.py [bench/natural]

Content words: lower-cased words minus scikit-learn's English stop words and a few chat
fillers, compared as Snowball stems (the same stemmer as the product's coverage signal).
Dev tool: reads ../shared (never used by tests).
"""

from __future__ import annotations

import re
import statistics
import sys
from collections import Counter
from pathlib import Path

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from index.natural_set import NaturalQuestion, load_natural
from index.rerank import stems

FILLERS = {"s", "t", "re", "ll", "ve", "d", "m", "rn", "yr", "yrs", "u", "ur", "does", "did", "get", "got"}
STOP = (
    set(ENGLISH_STOP_WORDS)
    | FILLERS
    | {"how", "what", "when", "where", "who", "whom", "whose", "which", "why"}
)
WORD = re.compile(r"[^\W_]+", re.UNICODE)


def content_overlap(q: NaturalQuestion) -> float:
    """Share of the question's content words whose stem occurs in the gold paragraph."""
    words = [w for w in WORD.findall(q.text.lower()) if w not in STOP]
    gold = set(stems(q.gold or ""))
    found = sum(1 for w in words if any(s in gold for s in stems(w)))
    return found / len(words) if words else 0.0


def main() -> None:
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/natural")
    natural = load_natural(directory)
    counts = Counter((q.kind, q.split) for q in natural.questions)
    print(
        f"{len(natural.questions)} questions over {len(natural.rows)} documents + {len(natural.files)} files"
    )
    for (kind, split), n in sorted(counts.items()):
        print(f"  {kind:11} {split:8} {n}")
    answerable = [q for q in natural.questions if q.kind == "answerable"]
    by: dict[str, list[float]] = {}
    for q in answerable:
        share = content_overlap(q)
        for key in ("all", f"split={q.split}", f"source={q.source}"):
            by.setdefault(key, []).append(share)
    print("mean share of a question's content words found in its gold paragraph:")
    for key, shares in sorted(by.items()):
        print(f"  {key:35} {statistics.mean(shares):.3f}  (n={len(shares)})")


if __name__ == "__main__":
    main()

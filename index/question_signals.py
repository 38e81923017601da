"""What a question's own words say about whether the briefings can answer it.

An off-topic team question ("what's the guest wifi password?") uses words the briefings never
use; a near-miss names the right people and topics but asks for a fact that no passage states,
so the names or numbers it asks about are missing from the passage that matches it best. Chat
is written in lower case, so a question word counts as a name when the briefings write it with
a capital (or the question does).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?:\"“”'’)\]]\s*$")
NAME_SHARE = 0.6  # share of a word's mid-sentence occurrences written with a capital


def unknown_share(terms: Sequence[str], df: Mapping[str, int], n_docs: int) -> float:
    """IDF-weighted share of the question's content words that no passage contains."""
    if not terms:
        return 0.0
    weights = {t: math.log(1 + (n_docs - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in terms}
    total = sum(weights.values()) or 1.0
    return sum(w for t, w in weights.items() if df.get(t, 0) == 0) / total


def question_names(question: str, terms: Sequence[str], texts: Iterable[str]) -> set[str]:
    """The question's content words that are names: capitalised in the question after its first
    word, or written with a capital in most of their mid-sentence occurrences in ``texts``."""
    words = [w for w in terms if not w.isdigit()]
    if not words:
        return set()
    names = {
        m.group(0).lower() for m in _WORD.finditer(question) if m.start() > 0 and m.group(0)[0].isupper()
    }
    names &= set(words)
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
    capital: dict[str, int] = {}
    seen: dict[str, int] = {}
    for text in texts:
        for m in pattern.finditer(text):
            before = text[max(0, m.start() - 3) : m.start()]
            if m.start() == 0 or _SENTENCE_END.search(before) or "\n" in before:
                continue  # a sentence's first word is capitalised whatever it is
            word = m.group(0).lower()
            seen[word] = seen.get(word, 0) + 1
            capital[word] = capital.get(word, 0) + m.group(0)[0].isupper()
    names.update(w for w, n in seen.items() if capital.get(w, 0) >= NAME_SHARE * n)
    return names


def missing_share(names: set[str], text: str) -> float:
    """Share of ``names`` that ``text`` never mentions (0 when there are none)."""
    if not names:
        return 0.0
    present = {m.group(0).lower() for m in _WORD.finditer(text)}
    return sum(1 for n in names if n not in present) / len(names)

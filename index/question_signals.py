"""What a question's own words say about whether the briefings can answer it.

An off-topic team question ("what's the guest wifi password?") uses words the briefings never
use; a near-miss names the right people and topics but asks for a fact that no passage states,
so the names or numbers it asks about are missing from the passage that matches it best. Chat
is written in lower case, so a question word counts as a name when the briefings write it with
a capital (or the question does). And the shape of the dense results: a question the briefings
answer finds a few close passages of one briefing, an off-topic one many alike from everywhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?:\"“”'’)\]]\s*$")
NAME_SHARE = 0.6  # share of a word's mid-sentence occurrences written with a capital
PEAK_DEPTH = 50  # dense results the peak is measured against
# The asker or the team as the subject ("how many vacation days do I have left?", "who's on call
# for us?"): what a team asks in chat about itself, which briefings do not cover.
_PERSONAL = re.compile(
    r"\b(?:i|i'm|im|i've|i'd|my|me|mine|we|we're|our|ours|you|your|someone|anyone|anybody|somebody)\b", re.I
)


def unknown_share(terms: Sequence[str], df: Mapping[str, int], n_docs: int) -> float:
    """IDF-weighted share of the question's content words that no passage contains."""
    if not terms:
        return 0.0
    weights = {t: math.log(1 + (n_docs - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in terms}
    total = sum(weights.values()) or 1.0
    return sum(w for t, w in weights.items() if df.get(t, 0) == 0) / total


def any_unknown(terms: Sequence[str], df: Mapping[str, int]) -> float:
    """1 when at least one of the question's content words occurs in no passage."""
    return 1.0 if any(df.get(t, 0) == 0 for t in terms) else 0.0


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
    capital: dict[str, int] = {}
    seen: dict[str, int] = {}
    for text in texts:
        lower = _lower_same_length(text)
        for word in words:
            at = lower.find(word)
            while at != -1:
                end = at + len(word)
                whole = (at == 0 or not lower[at - 1].isalnum()) and (
                    end == len(lower) or not lower[end].isalnum()
                )
                before = text[max(0, at - 3) : at]
                # A sentence's first word is capitalised whatever it is.
                if whole and at > 0 and not _SENTENCE_END.search(before) and "\n" not in before:
                    seen[word] = seen.get(word, 0) + 1
                    capital[word] = capital.get(word, 0) + text[at].isupper()
                at = lower.find(word, end)
    names.update(w for w, n in seen.items() if capital.get(w, 0) >= NAME_SHARE * n)
    return names


def _lower_same_length(text: str) -> str:
    """``text`` in lower case, character for character (so offsets match the original)."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def missing_share(names: set[str], text: str) -> float:
    """Share of ``names`` that ``text`` never mentions (0 when there are none)."""
    if not names:
        return 0.0
    present = set(_WORD.findall(text.lower()))
    return sum(1 for n in names if n not in present) / len(names)


def dense_peak(cosines_by_rank: Sequence[float]) -> float:
    """How far the best dense result stands above the next ones (up to ``PEAK_DEPTH``): a
    question the briefings answer finds a few close passages; an off-topic one, many alike."""
    top = list(cosines_by_rank[:PEAK_DEPTH])
    if len(top) < 2:
        return 0.0
    return float(top[0] - sum(top[1:]) / (len(top) - 1))


def top_briefing_share(briefings_by_rank: Sequence[str], k: int = 10) -> float:
    """Share of the first ``k`` dense results that come from the first one's briefing."""
    top = list(briefings_by_rank[:k])
    return sum(1 for b in top if b == top[0]) / len(top) if top else 0.0


def personal(question: str) -> float:
    """1 when the question is about the asker or the team (first or second person)."""
    return 1.0 if _PERSONAL.search(question) else 0.0

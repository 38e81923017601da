"""Rerank fused candidates with signals that ship with the product (no cross-encoder exists
offline): dense cosine, BM25 (FTS5, stemmed, title/section/body fields), IDF-weighted coverage
of the question's words in the passage and in its title and section, the best-matching
sentence (same embedding model), the briefing's best passage, and a soft date preference.

Each candidate gets a feature dict; the rank score is a weighted sum whose weights were tuned
on the public evaluation sets (``bench/tune.py``; figures in the README).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import Stemmer

from index.models import BriefingMeta
from index.store import StoredPassage

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def stems(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower())]


@dataclass(frozen=True)
class RerankOptions:
    """Weights of the rank score; defaults tuned on squad2-dev-tune and realtimeqa-2022."""

    field_weights: tuple[float, float, float] = (0.5, 0.5, 1.0)  # FTS5 bm25: title, section, body
    w_dense: float = 0.65
    w_bm25: float = 0.35
    w_coverage: float = 0.3
    w_context: float = 0.0
    w_sentence: float = 0.55
    w_doc: float = 0.0
    w_dense_sq: float = 0.0
    w_date: float = 0.05
    date_from: date | None = None  # a soft preference ("in 2023"), not a filter
    date_to: date | None = None

    def weights(self) -> dict[str, float]:
        return {
            "dense": self.w_dense,
            "bm25": self.w_bm25,
            "coverage": self.w_coverage,
            "context": self.w_context,
            "sentence": self.w_sentence,
            "doc": self.w_doc,
            "dense_sq": self.w_dense_sq,
            "date": self.w_date,
        }


@dataclass
class Candidate:
    stored: StoredPassage
    vector: np.ndarray
    features: dict[str, float]
    score: float = 0.0
    confidence: float = 0.0
    highlight: tuple[int, int] | None = None


def idf_weights(terms: Sequence[str], df: Mapping[str, int], n_docs: int) -> dict[str, float]:
    """Stemmed query term -> BM25-style IDF (rare words count more in coverage)."""
    out: dict[str, float] = {}
    for t in terms:
        c = df.get(t, 0)
        out.setdefault(_stem(t), math.log(1 + (n_docs - c + 0.5) / (c + 0.5)))
    return out


_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b([A-Z][\w’'-]+)")
_NUMBER = re.compile(r"\b\d[\d,.]*")


_WANTS_NUMBER = re.compile(
    r"^\s*(?:when|what year|what date|what time|how (?:many|much|long|old|far|often|big|large|tall|high))\b",
    re.I,
)
_WANTS_NAME = re.compile(r"^\s*(?:who|whom|whose)\b", re.I)
_HAS_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen|half|january|february|march|april|may|june|july|august|"
    r"september|october|november|december|century|centuries|decade|year|years|month|months|week|weeks|day|days)\b",
    re.I,
)
_HAS_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w’'-]+")


def answer_type_missing(question: str, text: str) -> float:
    """1 when the question asks for a number or date (when, how many) or a person (who) and
    the text has none: such a text cannot answer it."""
    if _WANTS_NUMBER.search(question):
        return 0.0 if _HAS_NUMBER.search(text) else 1.0
    if _WANTS_NAME.search(question):
        return 0.0 if _HAS_NAME.search(text.strip()) else 1.0
    return 0.0


def question_entities(question: str) -> tuple[set[str], set[str]]:
    """Names (capitalised words after the first) and numbers a question mentions."""
    names = {m.lower() for m in _NAME.findall(question.strip())}
    numbers = {n.strip(".,") for n in _NUMBER.findall(question)}
    return names, numbers


def candidate_features(
    question: str,
    qvec: np.ndarray,
    idf: Mapping[str, float],
    stored: Sequence[StoredPassage],
    vectors: np.ndarray,
    lexical: Mapping[int, float],
    meta_of: Callable[[str], BriefingMeta | None],
    options: RerankOptions,
) -> list[Candidate]:
    """Feature dicts for candidates (unscored, unsorted)."""
    cos = vectors @ qvec
    total_w = sum(idf.values()) or 1.0
    max_bm25 = max(lexical.values(), default=0.0) or 1.0
    q_names, q_numbers = question_entities(question)
    best_in_briefing: dict[str, float] = {}
    for i, sp in enumerate(stored):
        bid = sp.passage.briefing_id
        best_in_briefing[bid] = max(best_in_briefing.get(bid, -1.0), float(cos[i]))
    out: list[Candidate] = []
    for i, sp in enumerate(stored):
        p = sp.passage
        meta = meta_of(p.briefing_id)
        body = set(stems(p.text))
        ctx = set(stems((meta.title if meta else "") + " " + " ".join(p.section)))
        cover = sum(w for s, w in idf.items() if s in body) / total_w
        ctx_cover = sum(w for s, w in idf.items() if s in ctx and s not in body) / total_w
        sent_cos = sp.sentence_vectors @ qvec if sp.sentence_vectors is not None else None
        best_sent = int(np.argmax(sent_cos)) if sent_cos is not None and len(sent_cos) else None
        in_range = 0.0
        if meta and meta.date and (options.date_from or options.date_to):
            lo = options.date_from or date.min
            hi = options.date_to or date.max
            in_range = 1.0 if lo <= meta.date <= hi else 0.0
        c = float(cos[i])
        feats = {
            "dense": c,
            "dense_sq": c * c,
            "bm25": lexical.get(p.vid, 0.0) / max_bm25,
            "bm25_raw": lexical.get(p.vid, 0.0),
            "coverage": cover,
            "context": ctx_cover,
            "sentence": float(sent_cos[best_sent]) if sent_cos is not None and best_sent is not None else c,
            "doc": best_in_briefing[p.briefing_id],
            "date": in_range,
            "missing_idf": max((w for s, w in idf.items() if s not in body and s not in ctx), default=0.0),
            "n_terms": float(len(idf)),
            # A name or number the question asks about that the passage never mentions is the
            # typical sign of a question it cannot answer.
            "missing_names": _missing(q_names, p.text, meta.title if meta else ""),
            "missing_numbers": _missing(q_numbers, p.text, ""),
        }
        cand = Candidate(stored=sp, vector=vectors[i], features=feats)
        if len(p.sentences) > 1:
            if best_sent is not None and best_sent < len(p.sentences):
                cand.highlight = p.sentences[best_sent]
            else:
                cand.highlight = best_sentence(p.text, p.sentences, idf)
        span = cand.highlight or (0, len(p.text))
        in_sentence = set(stems(p.text[span[0] : span[1]]))
        feats["sentence_coverage"] = sum(w for s, w in idf.items() if s in in_sentence) / total_w
        feats["type_missing"] = answer_type_missing(question, p.text)
        feats["type_missing_sentence"] = answer_type_missing(question, p.text[span[0] : span[1]])
        out.append(cand)
    return out


def _missing(wanted: set[str], text: str, extra: str) -> float:
    """Share of ``wanted`` words absent from the text (0 when nothing is wanted)."""
    if not wanted:
        return 0.0
    hay = (text + " " + extra).lower()
    return sum(1 for w in wanted if w not in hay) / len(wanted)


def rerank(candidates: list[Candidate], options: RerankOptions) -> list[Candidate]:
    """Score candidates with the option weights, best first."""
    weights = options.weights()
    for cand in candidates:
        cand.score = sum(w * cand.features.get(name, 0.0) for name, w in weights.items())
    candidates.sort(key=lambda c: c.score, reverse=True)
    return candidates


def best_sentence(
    text: str, sentences: Sequence[tuple[int, int]], weights: Mapping[str, float]
) -> tuple[int, int] | None:
    """The sentence that covers most of the question's (IDF-weighted) words."""
    if len(sentences) < 2 or not weights:
        return None
    best: tuple[float, int] = (0.0, -1)
    for j, (s, e) in enumerate(sentences):
        words = set(stems(text[s:e]))
        score = sum(w for st, w in weights.items() if st in words)
        if score > best[0]:
            best = (score, j)
    return sentences[best[1]] if best[1] >= 0 else None

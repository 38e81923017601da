"""Rerank fused candidates with signals that ship with the product (no cross-encoder exists
offline): dense cosine, BM25, IDF-weighted coverage of the question's words in the passage
and in its title and section, the best-matching sentence, and a soft date preference.

Each candidate gets a feature dict; the rank score is a weighted sum whose weights were tuned
on the public evaluation sets (see README, "Answer quality").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
    w_dense: float = 1.0
    w_bm25: float = 0.35
    w_coverage: float = 0.3
    w_sentence: float = 0.0
    w_context: float = 0.05
    w_rrf: float = 0.0
    rrf_k: int = 60
    w_date: float = 0.05
    date_from: date | None = None  # a soft preference ("in 2023"), not a filter
    date_to: date | None = None
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class Candidate:
    stored: StoredPassage
    vector: np.ndarray
    features: dict[str, float]
    score: float = 0.0
    confidence: float = 0.0
    highlight: tuple[int, int] | None = None


def rerank(
    question: str,
    qvec: np.ndarray,
    terms: Sequence[str],
    stored: Sequence[StoredPassage],
    vectors: np.ndarray,
    dense: Mapping[int, float],
    lexical: Mapping[int, float],
    meta_of: Callable[[str], BriefingMeta | None],
    options: RerankOptions,
    idf: Mapping[str, float] | None = None,
) -> list[Candidate]:
    """Score candidates (not sorted). ``dense``/``lexical`` map vid -> retrieval score."""
    cos = vectors @ qvec
    q_stems = list(dict.fromkeys(_stem(t) for t in terms))
    weights = {s: (idf or {}).get(s, 1.0) for s in q_stems}
    total_w = sum(weights.values()) or 1.0
    max_bm25 = max(lexical.values(), default=0.0) or 1.0
    dense_rank = {v: r for r, (v, _) in enumerate(sorted(dense.items(), key=lambda x: -x[1]))}
    lex_rank = {v: r for r, (v, _) in enumerate(sorted(lexical.items(), key=lambda x: -x[1]))}
    out: list[Candidate] = []
    for i, sp in enumerate(stored):
        p = sp.passage
        meta = meta_of(p.briefing_id)
        body = set(stems(p.text))
        ctx = set(stems((meta.title if meta else "") + " " + " ".join(p.section)))
        cover = sum(w for s, w in weights.items() if s in body) / total_w
        ctx_cover = sum(w for s, w in weights.items() if s in ctx and s not in body) / total_w
        bm25 = lexical.get(p.vid, 0.0)
        rrf = 0.0
        if p.vid in dense_rank:
            rrf += 1.0 / (options.rrf_k + dense_rank[p.vid])
        if p.vid in lex_rank:
            rrf += 1.0 / (options.rrf_k + lex_rank[p.vid])
        in_range = 0.0
        if meta and meta.date and (options.date_from or options.date_to):
            lo = options.date_from or date.min
            hi = options.date_to or date.max
            in_range = 1.0 if lo <= meta.date <= hi else 0.0
        feats = {
            "dense": float(cos[i]),
            "bm25": bm25 / max_bm25,
            "bm25_raw": bm25,
            "coverage": cover,
            "context": ctx_cover,
            "rrf": rrf * options.rrf_k,
            "date": in_range,
            "words": math.log1p(len(p.text.split())),
        }
        cand = Candidate(stored=sp, vector=vectors[i], features=feats)
        cand.highlight = best_sentence(p.text, p.sentences, q_stems, weights)
        cand.score = (
            options.w_dense * feats["dense"]
            + options.w_bm25 * feats["bm25"]
            + options.w_coverage * feats["coverage"]
            + options.w_context * feats["context"]
            + options.w_rrf * feats["rrf"]
            + options.w_date * feats["date"]
        )
        out.append(cand)
    return out


def best_sentence(
    text: str,
    sentences: Sequence[tuple[int, int]],
    q_stems: Sequence[str],
    weights: Mapping[str, float],
) -> tuple[int, int] | None:
    """The sentence of a multi-sentence passage that covers most of the question's words."""
    if len(sentences) < 2 or not q_stems:
        return None
    best: tuple[float, int] = (0.0, -1)
    for j, (s, e) in enumerate(sentences):
        words = set(stems(text[s:e]))
        score = sum(w for st, w in weights.items() if st in words)
        if score > best[0]:
            best = (score, j)
    if best[1] < 0:
        return None
    s, e = sentences[best[1]]
    return (s, e)

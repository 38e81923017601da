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

from index.answer_type import Asked, asked_for, has_answer_type, names_role_holder
from index.models import BriefingMeta
from index.question_signals import (
    any_unknown,
    dense_peak,
    missing_share,
    personal,
    question_names,
    top_briefing_share,
    unknown_share,
)
from index.store import StoredPassage, query_terms
from index.terms import FIELD_WEIGHTS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def stems(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower())]


@lru_cache(maxsize=4096)
def _stem_set(text: str) -> frozenset[str]:
    """Stems of a short text many candidates share (a briefing's title and section)."""
    return frozenset(stems(text))


@dataclass(frozen=True)
class RerankOptions:
    """Weights of the rank score; defaults tuned on squad2-dev-tune, realtimeqa-2022 and the
    natural set's tune questions together (``bench/rank_search.py weights``)."""

    field_weights: tuple[float, float, float] = FIELD_WEIGHTS  # FTS5 bm25: title, section, body
    w_dense: float = 1.0
    w_bm25: float = -0.05
    w_coverage: float = 0.7
    w_context: float = 0.6
    w_sentence: float = 0.65
    w_doc: float = 0.6
    w_dense_sq: float = 0.0
    w_date: float = 0.05
    w_dense_rrf: float = 0.0
    w_type: float = 0.25
    w_type_sentence: float = 0.2
    w_sent2: float = 0.6
    w_doc_sent: float = 0.0
    w_bullet: float = -0.15
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
            "dense_rrf": self.w_dense_rrf,
            "type_ok": self.w_type,
            "type_ok_sentence": self.w_type_sentence,
            "sent2": self.w_sent2,
            "doc_sent": self.w_doc_sent,
            "is_bullet": self.w_bullet,
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


def answer_type_missing(question: str, text: str) -> float:
    """1 when the question asks for a number, a date, a name or a place and the text has none:
    such a text cannot answer it."""
    return 0.0 if has_answer_type(asked_for(question), text, question) else 1.0


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
    dense_rank: Mapping[int, int] | None = None,
    df: Mapping[str, int] | None = None,
    n_docs: int = 0,
) -> list[Candidate]:
    """Feature dicts for candidates (unscored, unsorted). ``dense_rank`` is each passage's
    place in the dense result list (lexical places follow from ``lexical``'s scores); ``df``
    and ``n_docs`` (the corpus's document frequencies and size) give the question's share of
    words the corpus never uses. Question-level signals (``index.question_signals``) are the
    same on every candidate."""
    cos = vectors @ qvec
    total_w = sum(idf.values()) or 1.0
    max_bm25 = max(lexical.values(), default=0.0) or 1.0
    lexical_rank = {v: i for i, v in enumerate(sorted(lexical, key=lambda v: -lexical[v]))}
    dense_rank = dense_rank or {}
    q_names, q_numbers = question_entities(question)
    terms = query_terms(question)
    ranks = [dense_rank.get(sp.passage.vid) for sp in stored]
    by_rank = sorted((r, i) for i, r in enumerate(ranks) if r is not None)
    question_level = {
        "unknown": unknown_share(terms, df, n_docs) if df is not None else 0.0,
        "unknown_any": any_unknown(terms, df) if df is not None else 0.0,
        "dense_peak": dense_peak([float(cos[i]) for _, i in by_rank]),
        "top_briefing": top_briefing_share([stored[i].passage.briefing_id for _, i in by_rank]),
        "personal": personal(question),
    }
    asked = asked_for(question)
    names = question_names(question, terms, (sp.passage.text for sp in stored))
    out: list[Candidate] = []
    for i, sp in enumerate(stored):
        p = sp.passage
        meta = meta_of(p.briefing_id)
        body = set(stems(p.text))
        ctx = _stem_set((meta.title if meta else "") + " " + " ".join(p.section))
        cover = sum(w for s, w in idf.items() if s in body) / total_w
        ctx_cover = sum(w for s, w in idf.items() if s in ctx and s not in body) / total_w
        sent_cos = sp.sentence_vectors @ qvec if sp.sentence_vectors is not None else None
        c = float(cos[i])
        if sent_cos is not None and len(sent_cos):
            best_sent = float(np.max(sent_cos))
            top2 = float(np.mean(np.sort(sent_cos)[-2:]))
        else:
            best_sent = top2 = c
        in_range = 0.0
        if meta and meta.date and (options.date_from or options.date_to):
            lo = options.date_from or date.min
            hi = options.date_to or date.max
            in_range = 1.0 if lo <= meta.date <= hi else 0.0
        d_rank, l_rank = dense_rank.get(p.vid), lexical_rank.get(p.vid)
        feats = {
            "dense": c,
            "dense_sq": c * c,
            "bm25": lexical.get(p.vid, 0.0) / max_bm25,
            "bm25_raw": lexical.get(p.vid, 0.0),
            "coverage": cover,
            "context": ctx_cover,
            "sentence": best_sent,
            "sent2": top2,
            "dense_rrf": 60 / (60 + d_rank) if d_rank is not None else 0.0,
            "lex_rrf": 60 / (60 + l_rank) if l_rank is not None else 0.0,
            "date": in_range,
            "missing_idf": max((w for s, w in idf.items() if s not in body and s not in ctx), default=0.0),
            "n_terms": float(len(idf)),
            # A name or number the question asks about that the passage never mentions is the
            # typical sign of a question it cannot answer.
            "missing_names": _missing(q_names, p.text, meta.title if meta else ""),
            "missing_numbers": _missing(q_numbers, p.text, ""),
            "is_bullet": 1.0 if p.kind == "bullet" else 0.0,
            **question_level,
            "n_names": float(len(names)),
            "names_missing": missing_share(names, p.text + " " + (meta.title if meta else "")),
        }
        cand = Candidate(stored=sp, vector=vectors[i], features=feats)
        if len(p.sentences) > 1:
            cand.highlight = answer_sentence(p.text, p.sentences, sent_cos, asked, idf, question)
        span = cand.highlight or (0, len(p.text))
        in_sentence = set(stems(p.text[span[0] : span[1]]))
        feats["sentence_coverage"] = sum(w for s, w in idf.items() if s in in_sentence) / total_w
        feats["type_ok"] = 1.0 if has_answer_type(asked, p.text, question) else 0.0
        feats["type_ok_sentence"] = (
            1.0 if has_answer_type(asked, p.text[span[0] : span[1]], question) else 0.0
        )
        feats["type_missing"] = 1.0 - feats["type_ok"]
        feats["type_missing_sentence"] = 1.0 - feats["type_ok_sentence"]
        out.append(cand)
    # Briefing-level signals: the best passage and the best sentence of the same briefing, and
    # the question's names that none of its candidate passages mentions.
    best_dense: dict[str, float] = {}
    best_sentence: dict[str, float] = {}
    briefing_text: dict[str, list[str]] = {}
    for cand in out:
        bid = cand.stored.passage.briefing_id
        best_dense[bid] = max(best_dense.get(bid, -1.0), cand.features["dense"])
        best_sentence[bid] = max(best_sentence.get(bid, -1.0), cand.features["sentence"])
        briefing_text.setdefault(bid, []).append(cand.stored.passage.text)
    for bid, texts in briefing_text.items():
        meta = meta_of(bid)
        texts.append(meta.title if meta else "")
    names_missing_briefing = {bid: missing_share(names, " ".join(t)) for bid, t in briefing_text.items()}
    for cand in out:
        bid = cand.stored.passage.briefing_id
        cand.features["doc"] = best_dense[bid]
        cand.features["doc_sent"] = best_sentence[bid]
        cand.features["names_missing_briefing"] = names_missing_briefing[bid]
    return out


ANSWER_SENTENCE_MARGIN = 0.05  # a sentence this close to the best match may be highlighted instead


def answer_sentence(
    text: str,
    sentences: Sequence[tuple[int, int]],
    sent_cos: np.ndarray | None,
    asked: Asked,
    idf: Mapping[str, float],
    question: str = "",
) -> tuple[int, int] | None:
    """The sentence to highlight: the best-matching one, unless a sentence almost as close holds
    what the question asks for (a number for "how many", a name for "who") and it does not."""
    if sent_cos is None or len(sent_cos) != len(sentences):
        return best_sentence(text, sentences, idf)
    order = [int(j) for j in np.argsort(-sent_cos)]
    best = order[0]
    if question and not has_answer_type(asked, text[slice(*sentences[best])], question):
        # "Who is the CEO of X?": the sentence naming the chief executive rarely mentions X.
        for j in order:
            if names_role_holder(question, text[slice(*sentences[j])]):
                return sentences[j]
    for j in order:
        if sent_cos[j] < sent_cos[best] - ANSWER_SENTENCE_MARGIN:
            break
        a, b = sentences[j]
        if has_answer_type(asked, text[a:b], question):
            return sentences[j]
    return sentences[best]


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

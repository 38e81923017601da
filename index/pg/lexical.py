"""Lexical search in PostgreSQL with the scores of the file backend (SQLite FTS5's BM25).

Passages carry a ``tsvector`` of their title (weight A), section (B) and body (D), stemmed with
PostgreSQL's English configuration, under a GIN index. A question's terms are matched with OR;
the matches are ranked in SQL by ``ts_rank`` per term weighted by the term's IDF (cheap, in C,
over every match), and the best few hundred are then scored exactly as FTS5 scores them:
BM25 with k1 = 1.2, b = 0.75, per-field weights, document length in words of all three fields.
Words in half the passages or more (which FTS5 weighs at almost nothing) do not select
candidates unless nothing else matches; on a large corpus, the commonest of the remaining
words stop selecting once the matches pass ``MATCH_BUDGET`` (they still count in the score).
Fusion weights and the calibrated confidence, fitted on FTS5 scores, so keep their meaning.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from index.terms import K1, B, fts5_idf

CONFIG = "english"
RESCORE_AT_LEAST = 200  # rows scored exactly, at least (and 4x what was asked for)
MATCH_BUDGET = 20_000  # passages a question's words may select before the commonest are left out

_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # FTS5's unicode61 tokens
_FIELD_OF_WEIGHT = {"A": 0, "B": 1, "C": 2, "D": 2}  # title, section, body

_lexemes: dict[str, str] = {}  # term -> lexeme ('' for a stop word); the same for every corpus
_lexemes_lock = threading.Lock()

Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]


def count_words(*texts: str) -> int:
    """Words as FTS5 counts them for BM25's document length."""
    return sum(len(_WORD.findall(t)) for t in texts)


def bm25(
    freqs: dict[str, tuple[int, int, int]],
    idf: dict[str, float],
    n_words: int,
    avg_words: float,
    field_weights: tuple[float, float, float],
) -> float:
    """FTS5's BM25 of one passage: ``freqs`` lexeme -> hits in (title, section, body)."""
    norm = K1 * (1 - B + B * n_words / (avg_words or 1.0))
    score = 0.0
    for lexeme, counts in freqs.items():
        tf = sum(w * c for w, c in zip(field_weights, counts, strict=True))
        score += idf.get(lexeme, 0.0) * (tf * (K1 + 1)) / (tf + norm)
    return score


def tsquery_literal(lexeme: str) -> str:
    """A lexeme as a tsquery operand (quoted: no operator or stemming applies to it)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def lexemes(connect: Connect, terms: Sequence[str]) -> dict[str, str]:
    """Each term's lexeme under the English configuration ('' for a stop word)."""
    missing = [t for t in dict.fromkeys(terms) if t not in _lexemes]
    if missing:
        with connect() as con:
            rows = con.execute(
                "SELECT t, coalesce((SELECT lexeme FROM unnest(to_tsvector(%s::regconfig, t)) "
                "ORDER BY lexeme LIMIT 1), '') FROM unnest(%s::text[]) AS t",
                (CONFIG, missing),
            ).fetchall()
        with _lexemes_lock:
            if len(_lexemes) > 200_000:  # bounded: questions bring new words forever
                _lexemes.clear()
            for term, lexeme in rows:
                _lexemes[str(term)] = str(lexeme)
    return {t: _lexemes.get(t, "") for t in terms}


def matching_lexemes(df: dict[str, int], n_docs: int, budget: int = MATCH_BUDGET) -> list[str]:
    """The lexemes a passage must contain to be a candidate, rarest first.

    Lexemes in half the passages or more get FTS5's floor weight (1e-6), so they select nothing
    worth ranking unless the question has nothing else; then the rarest ones are taken until
    their passages add up to ``budget``, to bound the work on a large corpus."""
    present = sorted((x for x in df if df[x] > 0), key=lambda x: (df[x], x))
    useful = [x for x in present if fts5_idf(n_docs, df[x]) > 1e-6] or present
    chosen: list[str] = []
    total = 0
    for x in useful:
        if chosen and total + df[x] > budget:
            break
        chosen.append(x)
        total += df[x]
    return chosen


class LexicalIndex:
    """Lexical search over the passages of one version (its revisions' rows).

    Document frequencies come from the version's term statistics (``version_terms``, written
    when the version is sealed), so they cost one indexed read, not a count over the corpus."""

    def __init__(self, connect: Connect, corpus_id: int, version: str, n_docs: int, n_words: int) -> None:
        self._connect = connect
        self.corpus_id = corpus_id
        self.version = version
        self.n_docs = n_docs
        self.avg_words = n_words / n_docs if n_docs else 1.0
        self._df: dict[str, int] = {}  # lexeme -> passages of this version that contain it

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many passages of the version contain each term (as PostgreSQL stems it)."""
        lex = lexemes(self._connect, terms)
        df = self._frequencies(sorted({x for x in lex.values() if x}))
        return {t: df.get(lex[t], 0) if lex[t] else 0 for t in terms}

    def _frequencies(self, wanted: Sequence[str]) -> dict[str, int]:
        missing = [x for x in wanted if x not in self._df]
        if missing:
            with self._connect() as con:
                rows = con.execute(
                    "SELECT lexeme, ndoc FROM version_terms WHERE corpus_id = %s AND version = %s "
                    "AND lexeme = ANY(%s::text[])",
                    (self.corpus_id, self.version, missing),
                ).fetchall()
            found = {str(x): int(n) for x, n in rows}
            for x in missing:
                self._df[x] = found.get(x, 0)
        return {x: self._df[x] for x in wanted}

    def search(
        self, terms: Sequence[str], limit: int, field_weights: tuple[float, float, float], revs: Sequence[int]
    ) -> list[tuple[int, float]]:
        """The ``limit`` best passages among revisions ``revs`` by BM25, best first.

        Document frequencies are those of the whole version, as FTS5 counts them whatever a
        query filters."""
        if not terms or not revs or limit <= 0:
            return []
        df = self._frequencies(sorted({x for x in lexemes(self._connect, terms).values() if x}))
        scored = {x: n for x, n in df.items() if n > 0}
        if not scored:
            return []
        idf = {x: fts5_idf(self.n_docs, n) for x, n in scored.items()}
        match = matching_lexemes(scored, self.n_docs)
        found = self._scored(match, idf, limit, field_weights, revs)
        if len(found) < limit and len(match) < len(scored):
            # Too few passages hold the rarer words: the common ones fill up, as in FTS5.
            found = self._scored(sorted(scored), idf, limit, field_weights, revs)
        return found

    def _scored(
        self,
        match: Sequence[str],
        idf: dict[str, float],
        limit: int,
        field_weights: tuple[float, float, float],
        revs: Sequence[int],
    ) -> list[tuple[int, float]]:
        """Passages holding any of ``match``, ranked in SQL, the best few hundred scored exactly."""
        lexes = sorted(idf)
        # ts_rank takes weights in [0, 1], ordered D, C, B, A; only their ratios matter here.
        top = max(field_weights) or 1.0
        title_w, section_w, body_w = (w / top for w in field_weights)
        ranks = " + ".join(
            f"%(idf{i})s * ts_rank(%(w)s::float4[], tsv, %(q{i})s::tsquery, 1)" for i in range(len(lexes))
        )
        args: dict[str, Any] = {
            "revs": list(revs),
            "query": " | ".join(tsquery_literal(x) for x in match),
            "w": [body_w, body_w, section_w, title_w],
            "pool": max(RESCORE_AT_LEAST, 4 * limit),
            "lexemes": lexes,
        }
        for i, x in enumerate(lexes):
            args[f"idf{i}"] = idf[x]
            args[f"q{i}"] = tsquery_literal(x)
        sql = (
            "WITH c AS MATERIALIZED (SELECT vid, n_tokens, tsv FROM passage_terms "
            "WHERE rev_id = ANY(%(revs)s::bigint[]) AND tsv @@ %(query)s::tsquery "
            f"ORDER BY {ranks} DESC LIMIT %(pool)s) "
            "SELECT c.vid, c.n_tokens, u.lexeme, u.weights FROM c, unnest(c.tsv) AS u "
            "WHERE u.lexeme = ANY(%(lexemes)s::text[])"
        )
        with self._connect() as con:
            rows = con.execute(sql.encode(), args).fetchall()
        freqs: dict[int, dict[str, list[int]]] = {}
        words: dict[int, int] = {}
        for vid, n_tokens, lexeme, weights in rows:
            words[int(vid)] = int(n_tokens)
            counts = freqs.setdefault(int(vid), {}).setdefault(str(lexeme), [0, 0, 0])
            for w in weights:
                counts[_FIELD_OF_WEIGHT[str(w)]] += 1
        scored = [
            (
                vid,
                bm25(
                    {x: (c[0], c[1], c[2]) for x, c in per.items()},
                    idf,
                    words[vid],
                    self.avg_words,
                    field_weights,
                ),
            )
            for vid, per in freqs.items()
        ]
        scored.sort(key=lambda x: (-x[1], x[0]))
        return scored[:limit]

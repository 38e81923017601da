"""Lexical search in PostgreSQL with the scores of the file backend (SQLite FTS5's BM25).

Passages carry a ``tsvector`` of their title (weight A), section (B) and body (D), stemmed with
PostgreSQL's English configuration, under a GIN index. A question's terms are matched with OR;
the matches are ranked in SQL by ``ts_rank`` per term weighted by the term's IDF (cheap, in C,
over every match), and the best few hundred are then scored exactly as FTS5 scores them:
BM25 with k1 = 1.2, b = 0.75, per-field weights, document length in words of all three fields.
Fusion weights and the calibrated confidence, fitted on FTS5 scores, so keep their meaning.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg

K1 = 1.2
B = 0.75
CONFIG = "english"
RESCORE_AT_LEAST = 200  # rows scored exactly, at least (and 4x what was asked for)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # FTS5's unicode61 tokens
_FIELD_OF_WEIGHT = {"A": 0, "B": 1, "C": 2, "D": 2}  # title, section, body

_lexemes: dict[str, str] = {}  # term -> lexeme ('' for a stop word); the same for every corpus
_lexemes_lock = threading.Lock()

Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]


def count_words(*texts: str) -> int:
    """Words as FTS5 counts them for BM25's document length."""
    return sum(len(_WORD.findall(t)) for t in texts)


def fts5_idf(n_docs: int, n_hit: int) -> float:
    """FTS5's IDF: log((N - n + 0.5) / (n + 0.5)), and a tiny positive value for common terms."""
    idf = math.log((n_docs - n_hit + 0.5) / (n_hit + 0.5))
    return idf if idf > 0 else 1e-6


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
            for term, lexeme in rows:
                _lexemes[str(term)] = str(lexeme)
    return {t: _lexemes.get(t, "") for t in terms}


class LexicalIndex:
    """Lexical search over the passages of one version (its revisions' rows)."""

    def __init__(self, connect: Connect, n_docs: int, n_words: int) -> None:
        self._connect = connect
        self.n_docs = n_docs
        self.avg_words = n_words / n_docs if n_docs else 1.0
        self._df: dict[str, int] = {}  # lexeme -> passages of this version that contain it

    def document_frequencies(self, terms: Sequence[str], revs: Sequence[int]) -> dict[str, int]:
        """How many passages of the version contain each term (as PostgreSQL stems it)."""
        lex = lexemes(self._connect, terms)
        self._count(sorted({x for x in lex.values() if x}), revs)
        return {t: self._df.get(lex[t], 0) if lex[t] else 0 for t in terms}

    def _count(self, wanted: Sequence[str], revs: Sequence[int]) -> None:
        missing = [x for x in wanted if x not in self._df]
        if not missing:
            return
        with self._connect() as con:
            rows = con.execute(
                "SELECT u.lexeme, (SELECT count(*) FROM passages WHERE rev_id = ANY(%s::bigint[]) "
                "AND tsv @@ u.literal::tsquery) FROM unnest(%s::text[], %s::text[]) AS u(lexeme, literal)",
                (list(revs), missing, [tsquery_literal(x) for x in missing]),
            ).fetchall()
        for lexeme, count in rows:
            self._df[str(lexeme)] = int(count)

    def search(
        self,
        terms: Sequence[str],
        limit: int,
        field_weights: tuple[float, float, float],
        revs: Sequence[int],
        all_revs: Sequence[int],
    ) -> list[tuple[int, float]]:
        """The ``limit`` best passages among revisions ``revs`` by BM25, best first.

        Document frequencies count every passage of the version (``all_revs``), as FTS5 does
        whatever a query filters."""
        if not terms or not revs or limit <= 0:
            return []
        lex = lexemes(self._connect, terms)
        wanted = sorted({x for x in lex.values() if x})
        if not wanted:
            return []
        self._count(wanted, all_revs)
        idf = {x: fts5_idf(self.n_docs, self._df.get(x, 0)) for x in wanted}
        # ts_rank takes weights in [0, 1], ordered D, C, B, A; only their ratios matter here.
        top = max(field_weights) or 1.0
        title_w, section_w, body_w = (w / top for w in field_weights)
        rank_weights = [body_w, body_w, section_w, title_w]
        ranks = " + ".join(
            f"%(idf{i})s * ts_rank(%(w)s::float4[], tsv, %(q{i})s::tsquery, 1)" for i in range(len(wanted))
        )
        args: dict[str, Any] = {
            "revs": list(revs),
            "query": " | ".join(tsquery_literal(x) for x in wanted),
            "w": rank_weights,
            "pool": max(RESCORE_AT_LEAST, 4 * limit),
            "lexemes": wanted,
        }
        for i, x in enumerate(wanted):
            args[f"idf{i}"] = idf[x]
            args[f"q{i}"] = tsquery_literal(x)
        sql = (
            "WITH c AS MATERIALIZED (SELECT vid, n_tokens, tsv FROM passages "
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
            words[vid] = int(n_tokens)
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

"""Try rank scores offline on the features collected by ``bench/rank_collect.py``.

    python bench/rank_search.py baselines     # plain dense, BM25, RRF, the shipped weights
    python bench/rank_search.py weights       # coordinate search of hand weights on all three sets
    python bench/rank_search.py learned       # learned rankers (cross-validated on the tune questions)
    python bench/rank_search.py prf           # pseudo-relevance feedback cosines added to the shipped score

Every figure is paragraph hit@1 / hit@5 per set; the natural set is reported on its tune and
held-out splits, and only tune questions are ever used to fit or choose anything.
"""

from __future__ import annotations

import math
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from index.answer_type import asked_for, has_answer_type
from index.rerank import answer_sentence, stems

CACHE = Path(os.environ.get("BRIEFBOT_RANK_CACHE", "/tmp/briefbot-rank"))
SETS = ["squad2-dev-tune", "realtimeqa-2022", "natural"]

# Feature columns built for every candidate (see ``rows``).
BASE = ["dense", "sentence", "bm25", "coverage", "context", "sentence_coverage", "doc"]
EXTRA = [
    "dense_rrf",
    "lex_rrf",
    "sent_rrf",
    "max_cov",
    "cov_x_maxcov",
    "bm25_x_maxcov",
    "type_ok",
    "type_ok_sentence",
    "is_bullet",
    "log_words",
    "sent2",
    "brief_cov",
    "nbr_cov",
    "doc_sent",
    "brief_lex",
    "prf3",
    "prf5",
    "prf10",
    "names_missing",
    "names_missing_briefing",
]
COLUMNS = BASE + EXTRA
# Pseudo-relevance feedback (Rocchio): cosine with the query plus ALPHA times the mean vector of
# its first k dense results, for k = 3, 5, 10.
PRF_K = (3, 5, 10)
PRF_ALPHA = float(os.environ.get("BRIEFBOT_PRF_ALPHA", "0.5"))


class Question:
    """One question: its candidates' feature matrix and hit labels."""

    def __init__(self, q: dict[str, Any], passages: dict[int, Any], set_name: str, ctx: Context) -> None:
        self.set = set_name
        self.id = q["id"]
        self.text = q["text"]
        self.kind = q["kind"]
        self.split = q["split"] or "tune"
        self.answerable = q["answerable"]
        self.hit = np.array(q["hit"], dtype=bool)
        self.X = rows(q, passages, ctx)

    @property
    def tune(self) -> bool:
        return self.split == "tune"


class Context:
    """Briefing-level word sets from the set's index (for briefing and neighbour coverage)."""

    def __init__(self, name: str) -> None:
        from index.store import Store
        from index.vectors import FaissVectorStore

        root = CACHE / name / "index" / "versions"
        version = sorted(p for p in root.iterdir() if not p.name.startswith("."))[-1]
        self.vectors = FaissVectorStore.load(version / "vectors.faiss")
        store = Store(version / "store.sqlite3", readonly=True, dim=384)
        self.brief: dict[str, set[str]] = {}
        self.by_ordinal: dict[tuple[str, int], set[str]] = {}
        for m in store.briefings():
            self.brief[m.briefing_id] = set(stems(m.title))
        for sp in store.iter_passages():
            p = sp.passage
            words = set(stems(p.text))
            self.by_ordinal[(p.briefing_id, p.ordinal)] = words
            self.brief.setdefault(p.briefing_id, set()).update(words)
        store.close()


def _cov(idf: dict[str, float], words: set[str]) -> float:
    total = sum(idf.values()) or 1.0
    return sum(w for s, w in idf.items() if s in words) / total


def rows(q: dict[str, Any], passages: dict[int, Any], ctx: Context) -> np.ndarray:
    feats = q["features"]
    if not feats:
        return np.zeros((0, len(COLUMNS)), dtype=np.float32)
    asked = asked_for(q["text"])
    max_cov = max(f["coverage"] for f in feats)
    idf = q["idf"]
    doc_sent: dict[str, float] = {}
    brief_lex: dict[str, float] = {}
    for v, f in zip(q["vids"], feats, strict=True):
        b = passages[v].passage.briefing_id
        doc_sent[b] = max(doc_sent.get(b, -1.0), f["sentence"])
        brief_lex[b] = brief_lex.get(b, 0.0) + f["bm25"]
    dense_order = sorted(q["dense_rank"], key=q["dense_rank"].get)
    cand_vecs = ctx.vectors.get(q["vids"])
    prf = []
    for k in PRF_K:
        expanded = q["qvec"] + PRF_ALPHA * ctx.vectors.get(dense_order[:k]).mean(axis=0)
        prf.append(cand_vecs @ (expanded / np.linalg.norm(expanded)))
    out = []
    for j, (v, f) in enumerate(zip(q["vids"], feats, strict=True)):
        sp = passages[v]
        p = sp.passage
        hl = (
            answer_sentence(
                p.text,
                p.sentences,
                sp.sentence_vectors @ q["qvec"] if sp.sentence_vectors is not None else None,
                asked,
                idf,
                q["text"],
            )
            if len(p.sentences) > 1
            else None
        ) or (0, len(p.text))
        sent_cos = (
            sp.sentence_vectors @ q["qvec"] if sp.sentence_vectors is not None else np.array([f["dense"]])
        )
        top2 = np.sort(sent_cos)[-2:] if len(sent_cos) > 1 else np.array([sent_cos[0], sent_cos[0]])
        d_rank = q["dense_rank"].get(v)
        l_rank = q["lexical_rank"].get(v)
        s_rank = q.get("sentence_rank", {}).get(v)
        section = " ".join(p.section).lower()
        out.append(
            [
                f["dense"],
                f["sentence"],
                f["bm25"],
                f["coverage"],
                f["context"],
                f["sentence_coverage"],
                f["doc"],
                60 / (60 + d_rank) if d_rank is not None else 0.0,
                60 / (60 + l_rank) if l_rank is not None else 0.0,
                60 / (60 + s_rank) if s_rank is not None else 0.0,
                max_cov,
                f["coverage"] * max_cov,
                f["bm25"] * max_cov,
                1.0 if has_answer_type(asked, p.text, q["text"]) else 0.0,
                1.0 if has_answer_type(asked, p.text[hl[0] : hl[1]], q["text"]) else 0.0,
                1.0 if p.kind == "bullet" or "takeaway" in section else 0.0,
                math.log1p(len(p.text.split())),
                float(top2.mean()),
                _cov(idf, ctx.brief.get(p.briefing_id, set())),
                _cov(
                    idf,
                    set().union(
                        *(ctx.by_ordinal.get((p.briefing_id, p.ordinal + d), set()) for d in (-1, 0, 1))
                    ),
                ),
                doc_sent[p.briefing_id],
                min(1.0, brief_lex[p.briefing_id] / 3),
                *(float(col[j]) for col in prf),
                f.get("names_missing", 0.0),
                f.get("names_missing_briefing", 0.0),
            ]
        )
    return np.array(out, dtype=np.float32)


def load(sets: list[str] = SETS) -> dict[str, list[Question]]:
    data: dict[str, list[Question]] = {}
    for name in sets:
        if not (CACHE / f"{name}.pkl").exists():
            continue
        raw = pickle.loads((CACHE / f"{name}.pkl").read_bytes())
        ctx = Context(name)
        data[name] = [Question(q, raw["passages"], name, ctx) for q in raw["questions"]]
    return data


def hits(questions: list[Question], score: Callable[[Question], np.ndarray]) -> tuple[float, float]:
    """hit@1, hit@5 over answerable questions."""
    answerable = [q for q in questions if q.answerable]
    h1 = h5 = 0
    for q in answerable:
        if len(q.hit) == 0:
            continue
        order = np.argsort(-score(q), kind="stable")
        h1 += bool(q.hit[order[0]])
        h5 += bool(q.hit[order[:5]].any())
    n = len(answerable) or 1
    return h1 / n, h5 / n


def report(
    label: str, data: dict[str, list[Question]], score: Callable[[Question], np.ndarray]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    parts = []
    for name, qs in data.items():
        groups = (
            {"": qs}
            if name != "natural"
            else {"tune": [q for q in qs if q.tune], "heldout": [q for q in qs if not q.tune]}
        )
        for split, sub in groups.items():
            h1, h5 = hits(sub, score)
            key = f"{name}{'/' + split if split else ''}"
            out[key] = (h1, h5)
            parts.append(f"{key} {h1:.3f}/{h5:.3f}")
    print(f"{label:42} " + "  ".join(parts), flush=True)
    return out


def linear(w: dict[str, float]) -> Callable[[Question], np.ndarray]:
    vec = np.array([w.get(c, 0.0) for c in COLUMNS], dtype=np.float32)
    return lambda q: q.X @ vec if len(q.X) else np.zeros(0)


SHIPPED = {"dense": 0.65, "bm25": 0.35, "coverage": 0.3, "sentence": 0.55}


def objective(res: dict[str, tuple[float, float]]) -> float:
    """Equal weight per set (natural: its tune split only): hit@1 + 0.5 hit@5."""
    keys = ["squad2-dev-tune", "realtimeqa-2022", "natural/tune"]
    return sum(res[k][0] + 0.5 * res[k][1] for k in keys if k in res) / len(keys)


def baselines(data: dict[str, list[Question]]) -> None:
    report("dense only", data, linear({"dense": 1}))
    report("BM25 only", data, linear({"bm25": 1}))
    report("RRF (k=60)", data, linear({"dense_rrf": 1, "lex_rrf": 1}))
    report("best sentence only", data, linear({"sentence": 1}))
    report("shipped weights", data, linear(SHIPPED))


def tune_split(data: dict[str, list[Question]]) -> dict[str, list[Question]]:
    return {name: [q for q in qs if q.tune] for name, qs in data.items()}


def weights(data: dict[str, list[Question]], columns: list[str], start: dict[str, float]) -> dict[str, float]:
    """Coordinate ascent on the tune questions of all three sets."""
    tune = tune_split(data)
    best = dict(start)

    def value(w: dict[str, float]) -> float:
        quiet = {n: hits(qs, linear(w)) for n, qs in tune.items()}
        return objective({("natural/tune" if n == "natural" else n): v for n, v in quiet.items()})

    best_v = value(best)
    for step in (0.4, 0.2, 0.1, 0.05):
        improved = True
        while improved:
            improved = False
            for c in columns:
                for d in (step, -step):
                    w = dict(best)
                    w[c] = round(w.get(c, 0.0) + d, 3)
                    v = value(w)
                    if v > best_v + 1e-9:
                        best, best_v, improved = w, v, True
        print(step, round(best_v, 4), {k: v for k, v in best.items() if v}, flush=True)
    return best


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "baselines"
    loaded = load()
    if cmd == "baselines":
        baselines(loaded)
    elif cmd == "weights":
        cols = sys.argv[2].split(",") if len(sys.argv) > 2 else COLUMNS
        found = weights(loaded, cols, SHIPPED)
        report("coordinate search", loaded, linear(found))
    elif cmd == "names":
        from index.rerank import RerankOptions

        shipped = RerankOptions().weights()
        report("shipped", loaded, linear(shipped))
        found = weights(loaded, ["names_missing", "names_missing_briefing"], shipped)
        report("shipped + names missing (searched)", loaded, linear(found))
    elif cmd == "prf":
        from index.rerank import RerankOptions

        shipped = RerankOptions().weights()
        report("shipped", loaded, linear(shipped))
        for col in ("prf3", "prf5", "prf10"):
            found = weights(loaded, [col, "dense", "sentence", "sent2", "doc"], shipped)
            report(f"shipped + {col} (searched)", loaded, linear(found))

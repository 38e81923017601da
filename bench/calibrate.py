"""Fit the answer/abstain confidence on the public tune sets and write index/calibration.json.

Positives: answerable questions. Negatives: SQuAD's unanswerable questions and off-topic
questions (another set's questions asked of this set's corpus). Dev tool: reads ../shared/eval.

    python bench/calibrate.py            # collect features (cached) and fit
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import SentenceTransformerEmbedder
from index.evaluation import build_eval_service, is_hit, load_set

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
CACHE = Path("/tmp/briefbot-calib")
OUT = Path(__file__).resolve().parents[1] / "index" / "calibration.json"
FEATURES = [
    "dense",
    "sentence",
    "coverage",
    "context",
    "bm25_raw",
    "missing_idf",
    "doc",
    "n_terms",
    "missing_names",
    "missing_numbers",
    "sentence_coverage",
    "type_missing",
    "type_missing_sentence",
]
OFFTOPIC = {
    "squad2-dev-tune": ["realtimeqa-2022", "scifact"],
    "realtimeqa-2022": ["squad2-dev-tune", "scifact"],
}


TOP = 10  # an answer abstains unless one of its (up to 10) quotes is strong


def top_features(cands: list, n_terms: int) -> dict[str, Any]:  # type: ignore[type-arg]
    """Features of the best candidate, plus those of the first ``TOP`` (for the threshold)."""
    if not cands:
        empty = {f: 0.0 for f in FEATURES}
        return {**empty, "top": [empty]}
    return {**cands[0].features, "top": [dict(c.features) for c in cands[:TOP]]}


def collect() -> list[dict]:  # type: ignore[type-arg]
    from index.store import query_terms

    emb = SentenceTransformerEmbedder()
    rows = []
    for name, others in OFFTOPIC.items():
        es = load_set(SHARED / name)
        svc, _ = build_eval_service(es, CACHE / name, emb)
        searcher = svc.searcher()
        for q in es.queries:
            cands = searcher.rank(q.text)
            rows.append(
                {
                    "set": name,
                    "kind": "answerable" if q.answerable else "unanswerable",
                    "hit1": bool(cands and is_hit(cands[0].stored.passage.text, q)),
                    **top_features(cands, len(query_terms(q.text))),
                }
            )
        for other in others:
            oq = load_set(SHARED / other).queries
            # Answerable questions of another set, a few hundred: off-topic here.
            oq = [q for q in oq if q.answerable][:300]
            for q in oq:
                cands = searcher.rank(q.text)
                rows.append(
                    {
                        "set": name,
                        "kind": "offtopic",
                        "hit1": False,
                        **top_features(cands, len(query_terms(q.text))),
                    }
                )
    return rows


def fit(rows: list[dict]) -> None:  # type: ignore[type-arg]
    from sklearn.linear_model import LogisticRegression

    X = np.array([[r[f] for f in FEATURES] for r in rows], dtype=np.float64)
    y = np.array([r["kind"] == "answerable" for r in rows])
    # Off-topic and unanswerable count as much in total as answerable questions.
    w = np.ones(len(rows))
    for kind in ("offtopic", "unanswerable"):
        mask = np.array([r["kind"] == kind for r in rows])
        w[mask] = 0.5 * y.sum() / max(1, mask.sum())
    model = LogisticRegression(C=1.0, max_iter=5000)
    model.fit(X, y, sample_weight=w)
    # The answer abstains unless one of its quotes is strong: threshold the best of the top.
    p = np.array(
        [max(model.predict_proba(np.array([[t[f] for f in FEATURES] for t in r["top"]]))[:, 1]) for r in rows]
    )
    kinds = np.array([r["kind"] for r in rows])
    sets = np.array([r["set"] for r in rows])
    # Threshold: at most 4% of answerable questions abstain in either set (held-out margin).
    cands = np.sort(np.unique(np.round(p, 4)))
    best_t = 0.0
    for t in cands:
        worst = max((p[(sets == s) & (kinds == "answerable")] < t).mean() for s in OFFTOPIC)
        if worst <= 0.04:
            best_t = float(t)
        else:
            break
    for s in OFFTOPIC:
        for kind in ("answerable", "unanswerable", "offtopic"):
            m = (sets == s) & (kinds == kind)
            if m.any():
                print(f"{s:18} {kind:13} n={m.sum():5} abstain={(p[m] < best_t).mean():.3f}")
    calib = {
        "features": FEATURES,
        "coef": [round(float(c), 6) for c in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "answer_at": round(best_t, 6),
        "notes": {
            "fitted_on": list(OFFTOPIC),
            "positives": "answerable questions",
            "negatives": "unanswerable (SQuAD v2) and off-topic (other sets' questions)",
            "rule": "threshold keeps at most 4% of answerable questions abstaining in each set",
        },
    }
    OUT.write_text(json.dumps(calib, indent=2) + "\n")
    print("wrote", OUT, calib["coef"], calib["intercept"], calib["answer_at"])


if __name__ == "__main__":
    CACHE.mkdir(exist_ok=True)
    cache = CACHE / "rows.pkl"
    if "--recollect" in sys.argv or not cache.exists():
        rows = collect()
        cache.write_bytes(pickle.dumps(rows))
    fit(pickle.loads(cache.read_bytes()))

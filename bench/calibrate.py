"""Fit the quote confidence ("this quote answers the question") and the strong threshold on
the features collected by ``bench/rank_collect.py``, and write ``index/calibration.json``.

    python bench/calibrate.py fit      # refit (hit-free, question-level labels) and write
    python bench/calibrate.py curve    # abstention of the shipped calibration at several thresholds

The first quote of an answerable question is a positive; the first quote of a near-miss,
off-topic or SQuAD unanswerable question is a negative (each set and side weighted equally). Candidates
are ordered by the shipped rank score (``index.rerank.RerankOptions``). A quote is strong when
its confidence reaches the threshold and its highlighted sentence holds the asked kind of
thing; the threshold keeps at most ``MAX_FALSE_ABSTAIN`` of each set's answerable tune
questions abstaining. Dev tool: reads the rank cache built from ../shared.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rank_search as rs

from index.rerank import RerankOptions

OUT = Path(__file__).resolve().parents[1] / "index" / "calibration.json"
TOP = 10
MAX_FALSE_ABSTAIN = 0.08
RELATIVE_STRONG = 0.75  # as index.search
FEATURES = [
    "dense",
    "sentence",
    "coverage",
    "sentence_coverage",
    "context",
    "bm25_raw",
    "doc",
    "doc_sent",
    "sent2",
    "n_terms",
    "missing_names",
    "missing_numbers",
    "missing_idf",
    "type_ok_sentence",
]
RAW = ["bm25_raw", "n_terms", "missing_names", "missing_numbers", "missing_idf"]


def candidates(name: str, questions: list[rs.Question], score: Any) -> list[dict[str, Any]]:
    """Per question: the first ``TOP`` candidates' confidence features and hit labels."""
    raw = pickle.loads((rs.CACHE / f"{name}.pkl").read_bytes())["questions"]
    by_id = {q["id"]: q for q in raw}
    out = []
    for q in questions:
        if len(q.X) == 0:
            out.append(
                {"q": q, "X": np.zeros((0, len(FEATURES))), "hit": np.zeros(0, dtype=bool), "type": []}
            )
            continue
        order = np.argsort(-score(q), kind="stable")[:TOP]
        feats = by_id[q.id]["features"]
        rows = []
        for i in order:
            named = dict(zip(rs.COLUMNS, q.X[i], strict=True))
            named.update({k: feats[i].get(k, 0.0) for k in RAW})
            rows.append([named[f] for f in FEATURES])
        X = np.array(rows, dtype=np.float64)
        out.append({"q": q, "X": X, "hit": q.hit[order], "type": X[:, FEATURES.index("type_ok_sentence")]})
    return out


def abstains(conf: np.ndarray, type_ok: np.ndarray, answer_at: float) -> bool:
    if len(conf) == 0:
        return True
    floor = max(answer_at, RELATIVE_STRONG * float(conf.max()))
    return not bool(((conf >= floor) & (type_ok >= 1)).any())


def main() -> None:
    data = rs.load()
    opts = RerankOptions()
    score = rs.linear({rs_name: w for rs_name, w in opts.weights().items()})
    per_set = {name: candidates(name, qs, score) for name, qs in data.items()}
    train = [c for rows in per_set.values() for c in rows if c["q"].tune and len(c["X"])]
    X = np.vstack([c["X"] for c in train])
    y = np.concatenate([c["hit"] for c in train])
    # Each set weighs the same in the fit, whatever its number of questions.
    w = np.concatenate(
        [np.full(len(c["X"]), 1.0 / sum(1 for d in train if d["q"].set == c["q"].set)) for c in train]
    )
    model = LogisticRegression(C=1.0, max_iter=5000)
    model.fit(X, y, sample_weight=w / w.mean())
    for rows in per_set.values():
        for c in rows:
            c["conf"] = model.predict_proba(c["X"])[:, 1] if len(c["X"]) else np.zeros(0)

    def false_abstain(name: str, t: float, tune: bool = True) -> float:
        rows = [c for c in per_set[name] if c["q"].answerable and c["q"].tune == tune]
        return float(np.mean([abstains(c["conf"], c["type"], t) for c in rows])) if rows else 0.0

    best_t = 0.0
    for t in np.round(np.arange(0.02, 0.95, 0.005), 3):
        if max(false_abstain(name, float(t)) for name in per_set) <= MAX_FALSE_ABSTAIN:
            best_t = float(t)
    print("threshold", best_t)
    for name, rows in per_set.items():
        for split in ("tune", "heldout"):
            sub = [c for c in rows if (c["q"].split or "tune") == split]
            if not sub:
                continue
            for kind in ("answerable", "unanswerable", "near_miss", "off_topic"):
                ks = [c for c in sub if c["q"].kind == kind]
                if ks:
                    share = np.mean([abstains(c["conf"], c["type"], best_t) for c in ks])
                    print(f"{name:16} {split:8} {kind:12} n={len(ks):5} abstain={share:.3f}")
    calib = {
        "features": FEATURES,
        "coef": [round(float(c), 6) for c in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "answer_at": round(best_t, 4),
        "notes": {
            "fitted_on": list(per_set),
            "positives": "the first quote of answerable questions",
            "negatives": "the first quote of near-miss, off-topic and SQuAD unanswerable questions",
            "rule": f"threshold keeps at most {MAX_FALSE_ABSTAIN} of each set's answerable tune questions abstaining",
        },
    }
    OUT.write_text(json.dumps(calib, indent=2) + "\n")
    print("wrote", OUT)


def curve() -> None:
    """Abstention shares of the shipped calibration at several thresholds (tune questions)."""
    shipped = json.loads(OUT.read_text())
    names, coef = shipped["features"], np.array(shipped["coef"])
    data = rs.load()
    score = rs.linear(RerankOptions().weights())
    for name, qs in data.items():
        raw = {q["id"]: q for q in pickle.loads((rs.CACHE / f"{name}.pkl").read_bytes())["questions"]}
        firsts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for q in qs:
            if not q.tune:
                continue
            order = np.argsort(-score(q), kind="stable")[:TOP] if len(q.X) else []
            confs, types = [], []
            for i in order:
                named = {**raw[q.id]["features"][i], **dict(zip(rs.COLUMNS, q.X[i], strict=True))}
                named["type_missing"] = 1 - named["type_ok"]
                named["type_missing_sentence"] = 1 - named["type_ok_sentence"]
                z = shipped["intercept"] + float(coef @ np.array([named.get(f, 0.0) for f in names]))
                confs.append(1 / (1 + np.exp(-z)))
                types.append(named["type_ok_sentence"])
            firsts.setdefault(q.kind, []).append((np.array(confs), np.array(types)))
        for t in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5):
            shares = {k: np.mean([abstains(c, ty, t) for c, ty in v]) for k, v in firsts.items()}
            print(f"{name:16} answer_at={t:.2f} " + "  ".join(f"{k} {v:.2f}" for k, v in shares.items()))


if __name__ == "__main__":
    curve() if sys.argv[1:] == ["curve"] else main()  # "fit" or nothing: refit

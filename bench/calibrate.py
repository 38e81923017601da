"""Fit the quote confidence ("this quote answers the question") and the strong threshold on
the features collected by ``bench/rank_collect.py``, and write ``index/calibration.json``.

    python bench/calibrate.py curve              # abstention of the shipped calibration at several thresholds
    python bench/calibrate.py compare            # fit every feature set and label rule, print their curves
    python bench/calibrate.py fit [SET] [LABELS] # refit with one feature set and label rule, and write

Candidates are ordered by the shipped rank score (``index.rerank.RerankOptions``); the first
``TOP`` of every tune question take part. Label rules: ``hits`` (a candidate is positive when
it is a hit, every other is negative) and ``questions`` (hits are positive; the candidates of
near-miss, off-topic and unanswerable questions are negative; the other candidates of answerable
questions are left out). Each set weighs the same, and within a set positives and negatives weigh
the same. A quote is strong when its confidence reaches the threshold and 0.75 of the best
quote's, and its highlighted sentence holds the asked kind of thing; an answer abstains when no
quote is strong. The threshold is the highest that keeps every set's answerable tune questions
abstaining at most ``MAX_FALSE_ABSTAIN``. Held-out natural questions are reported, never used.
Dev tool: reads the rank cache built from ../shared.
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
K = 10  # quotes an eval answer holds (briefbot eval asks with k=10)
MAX_FALSE_ABSTAIN = 0.10
RELATIVE_STRONG = 0.75  # as index.search
BASE = [
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
NAMES = ["names_missing", "names_missing_briefing"]
PEAK = ["dense_peak", "top_briefing"]
FEATURE_SETS = {
    "base": BASE,
    "vocab": [*BASE, "unknown"],
    "names": [*BASE, *NAMES],
    "peak": [*BASE, *PEAK],
    "personal": [*BASE, "personal"],
    "names+peak": [*BASE, *NAMES, *PEAK],
    "names+peak+personal": [*BASE, *NAMES, *PEAK, "personal"],
    "all": [*BASE, "unknown", *NAMES, *PEAK, "personal"],
}
KINDS = ("answerable", "unanswerable", "near_miss", "off_topic")


def question_rows(data: dict[str, list[rs.Question]]) -> list[dict[str, Any]]:
    """Per question: the first ``TOP`` candidates (shipped rank order) as named feature dicts."""
    score = rs.linear(RerankOptions().weights())
    out = []
    for name, qs in data.items():
        raw = {q["id"]: q for q in pickle.loads((rs.CACHE / f"{name}.pkl").read_bytes())["questions"]}
        for q in qs:
            order: Any = np.argsort(-score(q), kind="stable")[:TOP] if len(q.X) else []
            feats = []
            for i in order:
                named = {**raw[q.id]["features"][i], **dict(zip(rs.COLUMNS, q.X[i], strict=True))}
                named["type_missing"] = 1 - named["type_ok"]
                named["type_missing_sentence"] = 1 - named["type_ok_sentence"]
                feats.append(named)
            out.append({"q": q, "feats": feats, "hit": q.hit[order] if len(q.X) else np.zeros(0, dtype=bool)})
    return out


def matrix(row: dict[str, Any], features: list[str]) -> np.ndarray:
    return np.array([[f.get(n, 0.0) for n in features] for f in row["feats"]], dtype=np.float64).reshape(
        -1, len(features)
    )


def fit(rows: list[dict[str, Any]], features: list[str], labels: str) -> tuple[np.ndarray, float]:
    """Logistic coefficients and intercept on the tune questions."""
    xs, ys, groups = [], [], []
    for r in rows:
        if not r["q"].tune or not r["feats"]:
            continue
        X, hit = matrix(r, features), r["hit"]
        if labels == "questions" and r["q"].answerable:
            X, hit = X[hit], hit[hit]
        xs.append(X)
        ys.append(hit)
        groups.extend([r["q"].set] * len(hit))
    X, y, g = np.vstack(xs), np.concatenate(ys), np.array(groups)
    w = np.zeros(len(y))
    sets = sorted(set(groups))
    for s in sets:
        for label in (True, False):
            mask = (g == s) & (y == label)
            if mask.any():
                w[mask] = 1.0 / mask.sum()
    model = LogisticRegression(C=1.0, max_iter=10000)
    model.fit(X, y, sample_weight=w / w.mean())
    return model.coef_[0], float(model.intercept_[0])


def confidences(row: dict[str, Any], features: list[str], coef: np.ndarray, intercept: float) -> np.ndarray:
    if not row["feats"]:
        return np.zeros(0)
    z = intercept + matrix(row, features) @ coef
    return 1 / (1 + np.exp(-np.clip(z, -60, 60)))


def abstains(conf: np.ndarray, type_ok: np.ndarray, answer_at: float) -> bool:
    conf, type_ok = conf[:K], type_ok[:K]
    if len(conf) == 0:
        return True
    floor = max(answer_at, RELATIVE_STRONG * float(conf.max()))
    return not bool(((conf >= floor) & (type_ok >= 1)).any())


def shares(rows: list[dict[str, Any]], confs: list[np.ndarray], t: float, split: str) -> dict[str, float]:
    """Abstention share per ``set/kind`` at threshold ``t`` on one split."""
    out: dict[str, list[bool]] = {}
    for r, c in zip(rows, confs, strict=True):
        if (r["q"].split or "tune") != split:
            continue
        types = np.array([f["type_ok_sentence"] for f in r["feats"]])
        out.setdefault(f"{r['q'].set}/{r['q'].kind}", []).append(abstains(c, types, t))
    return {k: float(np.mean(v)) for k, v in sorted(out.items())}


def threshold(rows: list[dict[str, Any]], confs: list[np.ndarray]) -> float:
    best = 0.0
    for t in np.round(np.arange(0.02, 0.95, 0.01), 3):
        s = shares(rows, confs, float(t), "tune")
        if max(v for k, v in s.items() if k.endswith("/answerable")) <= MAX_FALSE_ABSTAIN:
            best = float(t)
    return best


def show(label: str, s: dict[str, float]) -> None:
    short = {"squad2-dev-tune": "sq", "realtimeqa-2022": "rt", "natural": "nat"}
    parts = [f"{short[k.split('/')[0]]}.{k.split('/')[1][:6]} {v:.2f}" for k, v in s.items()]
    print(f"{label:34} " + "  ".join(parts), flush=True)


def compare(rows: list[dict[str, Any]]) -> None:
    shipped = json.loads(OUT.read_text())
    names, coef = shipped["features"], np.array(shipped["coef"])
    confs = [confidences(r, names, coef, shipped["intercept"]) for r in rows]
    for t in (shipped["answer_at"], threshold(rows, confs)):
        show(f"shipped t={t:.2f}", shares(rows, confs, t, "tune"))
    for set_name, features in FEATURE_SETS.items():
        for labels in ("hits", "questions"):
            c, b = fit(rows, features, labels)
            confs = [confidences(r, features, c, b) for r in rows]
            t = threshold(rows, confs)
            show(f"{set_name}/{labels} t={t:.2f}", shares(rows, confs, t, "tune"))


def curve(rows: list[dict[str, Any]]) -> None:
    """Abstention shares of the shipped calibration at several thresholds (tune questions)."""
    shipped = json.loads(OUT.read_text())
    names, coef = shipped["features"], np.array(shipped["coef"])
    confs = [confidences(r, names, coef, shipped["intercept"]) for r in rows]
    for t in np.round(np.arange(0.2, 0.75, 0.05), 2):
        show(f"answer_at={t:.2f}", shares(rows, confs, float(t), "tune"))


def write(rows: list[dict[str, Any]], set_name: str, labels: str) -> None:
    features = FEATURE_SETS[set_name]
    coef, intercept = fit(rows, features, labels)
    confs = [confidences(r, features, coef, intercept) for r in rows]
    t = threshold(rows, confs)
    show(f"tune t={t:.2f}", shares(rows, confs, t, "tune"))
    show(f"held-out t={t:.2f}", shares(rows, confs, t, "heldout"))
    calib = {
        "features": features,
        "coef": [round(float(c), 6) for c in coef],
        "intercept": round(intercept, 6),
        "answer_at": round(t, 4),
        "notes": {
            "fitted_on": ["squad2-dev-tune", "realtimeqa-2022", "natural (tune split)"],
            "labels": labels,
            "positives": "hit candidates among the first 10 of answerable questions",
            "negatives": "the first 10 candidates of near-miss, off-topic (other sets' questions too) and "
            "SQuAD unanswerable questions"
            + (", and non-hit candidates of answerable ones" if labels == "hits" else ""),
            "rule": f"threshold keeps at most {MAX_FALSE_ABSTAIN} of each set's answerable tune questions abstaining",
        },
    }
    OUT.write_text(json.dumps(calib, indent=2) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "curve"
    all_rows = question_rows(rs.load())
    if cmd == "curve":
        curve(all_rows)
    elif cmd == "compare":
        compare(all_rows)
    elif cmd == "fit":
        write(
            all_rows,
            sys.argv[2] if len(sys.argv) > 2 else "all",
            sys.argv[3] if len(sys.argv) > 3 else "hits",
        )
    else:
        raise SystemExit(__doc__)

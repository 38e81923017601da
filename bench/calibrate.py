"""Fit the quote confidence ("this quote answers the question") and the strong threshold on
the features collected by ``bench/rank_collect.py``, and write ``index/calibration.json``.

    python bench/calibrate.py curve [SET LABELS] # abstention at several thresholds (shipped, or a fit)
    python bench/calibrate.py compare            # fit every feature set and label rule, print their curves
    python bench/calibrate.py fit [SET] [LABELS] # refit with one feature set and label rule, and write

Candidates are ordered by the shipped rank score (``index.rerank.RerankOptions``); the first
``TOP`` of every tune question take part. Label rules: ``hits`` (a candidate is positive when
it is a hit, every other is negative), ``questions`` (hits are positive; the candidates of
near-miss, off-topic and unanswerable questions are negative; the other candidates of answerable
questions are left out) and ``first`` (the first hit of an answerable question is positive, the
first three candidates of the others negative). Each set weighs the same, and within a set positives and negatives weigh
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
    "unknown_any": [*BASE, "unknown_any"],  # shipped
    "rare": [*BASE, "rare_share"],
    "min_df": [*BASE, "min_df"],
    "vocab+rare": [*BASE, "unknown", "rare_share"],
    "vocab+personal": [*BASE, "unknown", "personal"],
    "vocab+peak": [*BASE, "unknown", *PEAK],
    "vocab+names": [*BASE, "unknown", *NAMES],
}
KINDS = ("answerable", "unanswerable", "near_miss", "off_topic")


def question_rows(data: dict[str, list[rs.Question]]) -> list[dict[str, Any]]:
    """Per question: the first ``TOP`` candidates (shipped rank order) as named feature dicts."""
    score = rs.linear(RerankOptions().weights())
    out = []
    for name, qs in data.items():
        cache = pickle.loads((rs.CACHE / f"{name}.pkl").read_bytes())
        raw = {q["id"]: q for q in cache["questions"]}
        for q in qs:
            extra = vocabulary_variants(raw[q.id].get("df", {}), cache["n"])
            order: Any = np.argsort(-score(q), kind="stable")[:TOP] if len(q.X) else []
            feats = []
            for i in order:
                named = {**raw[q.id]["features"][i], **dict(zip(rs.COLUMNS, q.X[i], strict=True))}
                named["type_missing"] = 1 - named["type_ok"]
                named["type_missing_sentence"] = 1 - named["type_ok_sentence"]
                named.update(extra)
                feats.append(named)
            out.append({"q": q, "feats": feats, "hit": q.hit[order] if len(q.X) else np.zeros(0, dtype=bool)})
    return out


def vocabulary_variants(df: dict[str, int], n: int) -> dict[str, float]:
    """Other forms of the corpus-vocabulary signal, tried offline."""
    if not df:
        return {"unknown_any": 0.0, "rare_share": 0.0, "min_df": 0.0}
    idf = {t: np.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
    total = sum(idf.values()) or 1.0
    return {
        "unknown_any": float(any(c == 0 for c in df.values())),
        "rare_share": float(sum(w for t, w in idf.items() if df[t] <= 2) / total),
        "min_df": float(np.log1p(min(df.values()))),
    }


def matrix(row: dict[str, Any], features: list[str]) -> np.ndarray:
    return np.array([[f.get(n, 0.0) for n in features] for f in row["feats"]], dtype=np.float64).reshape(
        -1, len(features)
    )


def fit(
    rows: list[dict[str, Any]], features: list[str], labels: str, c: float = 1.0
) -> tuple[np.ndarray, float]:
    """Logistic coefficients and intercept on the tune questions (fitted on standardised
    features, returned for raw ones). Within each set, the positives weigh as much as the
    negatives, and the negatives of each kind (other candidates of answerable questions,
    near-misses, off-topic questions) weigh the same; SQuAD's adversarial unanswerable
    questions are left out (no signal here tells them apart: AUROC about 0.67)."""
    xs, ys, groups = [], [], []
    for r in rows:
        q = r["q"]
        if not q.tune or not r["feats"] or q.kind == "unanswerable":
            continue
        X, hit = matrix(r, features), r["hit"]
        if labels == "questions" and q.answerable:
            X, hit = X[hit], hit[hit]
        elif labels == "first":
            X, hit = (X[hit][:1], hit[hit][:1]) if q.answerable else (X[:3], hit[:3])
        xs.append(X)
        ys.append(hit)
        groups.extend(f"{q.set}/{'hit' if h else q.kind}" for h in hit)
    X, y, g = np.vstack(xs), np.concatenate(ys), np.array(groups)
    w = np.zeros(len(y))
    for s in sorted({k.split("/")[0] for k in groups}):
        negatives = sorted({k for k in groups if k.startswith(s + "/") and not k.endswith("/hit")})
        for k in [f"{s}/hit", *negatives]:
            mask = g == k
            if mask.any():
                share = 1.0 if k.endswith("/hit") else 1.0 / len(negatives)
                w[mask] = share / mask.sum()
    mean, std = X.mean(axis=0), X.std(axis=0)
    std[std == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=10000)
    model.fit((X - mean) / std, y, sample_weight=w / w.mean())
    coef = model.coef_[0] / std
    return coef, float(model.intercept_[0] - coef @ mean)


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
        if r["q"].answerable and r["hit"][:K].any():
            # Answerable questions whose answer is among the quotes at all.
            out.setdefault(f"{r['q'].set}/found", []).append(abstains(c, types, t))
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
    parts = [f"{short[k.split('/')[0]]}.{k.split('/')[1][:5]} {v:.2f}" for k, v in s.items()]
    print(f"{label:34} " + "  ".join(parts), flush=True)


def compare(rows: list[dict[str, Any]]) -> None:
    shipped = json.loads(OUT.read_text())
    names, coef = shipped["features"], np.array(shipped["coef"])
    confs = [confidences(r, names, coef, shipped["intercept"]) for r in rows]
    for t in (shipped["answer_at"], threshold(rows, confs)):
        show(f"shipped t={t:.2f}", shares(rows, confs, t, "tune"))
    for set_name, features in FEATURE_SETS.items():
        for labels in ("hits", "questions", "first"):
            c, b = fit(rows, features, labels)
            confs = [confidences(r, features, c, b) for r in rows]
            t = threshold(rows, confs)
            show(f"{set_name}/{labels} t={t:.2f}", shares(rows, confs, t, "tune"))


def curve(rows: list[dict[str, Any]], set_name: str | None = None, labels: str = "first") -> None:
    """Abstention shares at several thresholds (tune questions): of the shipped calibration, or
    of a fit with ``set_name`` and ``labels``."""
    if set_name is None:
        shipped = json.loads(OUT.read_text())
        names, coef, intercept = shipped["features"], np.array(shipped["coef"]), shipped["intercept"]
    else:
        names = FEATURE_SETS[set_name]
        coef, intercept = fit(rows, names, labels)
    confs = [confidences(r, names, coef, intercept) for r in rows]
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
            "positives": {
                "first": "the first hit among the first 10 candidates of each answerable question",
                "questions": "hit candidates among the first 10 of answerable questions",
                "hits": "hit candidates among the first 10 of answerable questions",
            }[labels],
            "negatives": {
                "first": "the first 3 candidates of near-miss and off-topic questions (other sets' too)",
                "questions": "the first 10 candidates of near-miss and off-topic questions (other sets' too)",
                "hits": "the other candidates among the first 10 of every question",
            }[labels],
            "weights": "per set, positives as much as negatives, each kind of negative the same; "
            "SQuAD's adversarial unanswerable questions left out",
            "rule": f"threshold keeps at most {MAX_FALSE_ABSTAIN} of each set's answerable tune questions abstaining",
        },
    }
    OUT.write_text(json.dumps(calib, indent=2) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "curve"
    all_rows = question_rows(rs.load())
    if cmd == "curve":
        curve(all_rows, *sys.argv[2:4])
    elif cmd == "compare":
        compare(all_rows)
    elif cmd == "fit":
        write(
            all_rows,
            sys.argv[2] if len(sys.argv) > 2 else "unknown_any",
            sys.argv[3] if len(sys.argv) > 3 else "first",
        )
    else:
        raise SystemExit(__doc__)

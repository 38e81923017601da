"""Collect ranking features for every candidate of every question of the tune sets, then try
weightings offline. Dev tool: reads ../shared/eval (never used by tests).

    python bench/tune.py collect   # slow: builds eval indexes, encodes sentences (cached)
    python bench/tune.py search    # fast: tries weightings on the cached features
"""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path

import numpy as np

from index.embedder import SentenceTransformerEmbedder
from index.evaluation import build_eval_service, is_hit, load_set
from index.store import query_terms

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
CACHE = Path("/tmp/briefbot-tune")
SETS = ["squad2-dev-tune", "realtimeqa-2022"]
SUFFIX = ""
CTXFULL = bool(__import__("os").environ.get("CTXFULL"))
EXCLUDE = set(filter(None, __import__("os").environ.get("EXCLUDE", "").split(",")))


def collect(name: str, emb: SentenceTransformerEmbedder, group: int) -> None:
    from index.build import BuildOptions
    from index.chunking import ChunkOptions

    es = load_set(SHARED / name)
    work = CACHE / f"{name}-g{group}"
    t0 = time.time()
    svc, _ = build_eval_service(es, work, emb, build=BuildOptions(chunk=ChunkOptions(group_words=group)))
    print(name, "indexed", time.time() - t0)
    s = svc.searcher()
    store, vectors = s.index.store, s.index.vectors
    rows = []
    for q in es.queries:
        qvec = emb.encode_query(q.text)
        terms = query_terms(q.text)
        dense = vectors.search(qvec, 100)
        lex = store.lexical_search(terms, 100, (0.5, 0.5, 1.0))
        lex_body = store.lexical_search(terms, 100, (0.0, 0.0, 1.0))
        vids = list(dict.fromkeys([v for v, _ in dense] + [v for v, _ in lex]))
        stored = store.passages(vids)
        vids = [v for v in vids if v in stored]
        vecs = vectors.get(vids)
        rows.append(
            {
                "qid": q.query_id,
                "answerable": q.answerable,
                "q": q.text,
                "qvec": qvec,
                "terms": terms,
                "vids": vids,
                "dense": dict(dense),
                "lex": dict(lex),
                "lex_body": dict(lex_body),
                "cos": vecs @ qvec,
                "hit": [is_hit(stored[v].passage.text, q) for v in vids],
            }
        )
    passages = {sp.passage.vid: sp.passage for sp in store.iter_passages()}
    metas = {m.briefing_id: m for m in store.briefings()}
    # sentence vectors for every passage
    sent_index = []
    sent_texts = []
    for vid, p in passages.items():
        for a, b in p.sentences or ((0, len(p.text)),):
            sent_index.append(vid)
            sent_texts.append(p.text[a:b])
    t0 = time.time()
    sv = emb.encode(sent_texts, batch_size=64)
    print(name, len(sent_texts), "sentences encoded", time.time() - t0)
    counts = {}
    for m in metas:
        counts[m] = 0
    for p in passages.values():
        counts[p.briefing_id] += 1
    with (CACHE / f"{name}-g{group}.pkl").open("wb") as fh:
        pickle.dump(
            {
                "rows": rows,
                "passages": passages,
                "metas": metas,
                "sent_index": sent_index,
                "sent_vecs": sv,
                "counts": counts,
            },
            fh,
        )


if __name__ == "__main__":
    CACHE.mkdir(exist_ok=True)
    if sys.argv[1] == "collect":
        emb = SentenceTransformerEmbedder()
        group = int(sys.argv[2])
        for name in sys.argv[3:] or SETS:
            collect(name, emb, group)


# --------------------------------------------------------------------------- offline search


def features(name: str) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    import math
    import re
    from collections import Counter

    from index.rerank import stems

    data = pickle.load((CACHE / f"{name}{SUFFIX}.pkl").open("rb"))
    passages, metas = data["passages"], data["metas"]
    sent_of: dict[int, list[int]] = {}
    for i, vid in enumerate(data["sent_index"]):
        sent_of.setdefault(vid, []).append(i)
    sv = data["sent_vecs"]
    df: Counter[str] = Counter()
    pst = {}
    for vid, p in passages.items():
        st = set(stems(p.text))
        pst[vid] = st
        df.update(st)
    n = len(passages)
    idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
    cap = re.compile(r"\b(?:[A-Z][\w’'-]+|\d[\d,.]*)")
    names = [
        "cos",
        "bm25",
        "bm25b",
        "cover",
        "ctx",
        "sent",
        "rrf",
        "novel",
        "pos",
        "words",
        "doc",
        "doc3",
        "cos2",
    ]
    X, Y = [], []
    for r in data["rows"]:
        if not r["answerable"]:
            continue
        vids = r["vids"]
        qst = list(dict.fromkeys(stems(" ".join(r["terms"]))))
        w = {s: idf.get(s, max(idf.values())) for s in qst}
        tw = sum(w.values()) or 1
        mx = max(r["lex"].values(), default=1) or 1
        mxb = max(r["lex_body"].values(), default=1) or 1
        drank = {v: i for i, v in enumerate(sorted(r["dense"], key=lambda v: -r["dense"][v]))}
        lrank = {v: i for i, v in enumerate(sorted(r["lex"], key=lambda v: -r["lex"][v]))}
        qcaps = {m.lower() for m in cap.findall(r["q"])}
        feats = []
        per_doc: dict[str, list[float]] = {}
        for i, v in enumerate(vids):
            per_doc.setdefault(passages[v].briefing_id, []).append(float(r["cos"][i]))
        for i, v in enumerate(vids):
            p = passages[v]
            meta = metas[p.briefing_id]
            ctx = set(stems(meta.title + " " + " ".join(p.section)))
            cover = sum(x for s, x in w.items() if s in pst[v]) / tw
            ctxc = sum(x for s, x in w.items() if s in ctx and (CTXFULL or s not in pst[v])) / tw
            sidx = sent_of.get(v, [])
            sent = float(np.max(sv[sidx] @ r["qvec"])) if sidx else float(r["cos"][i])
            rrf = (1 / (60 + drank[v]) if v in drank else 0) + (1 / (60 + lrank[v]) if v in lrank else 0)
            caps = [m.lower() for m in cap.findall(p.text)]
            novel = min(1.0, sum(1 for c in caps if c not in qcaps) / 5)
            docs = sorted(per_doc[p.briefing_id], reverse=True)
            feats.append(
                [
                    float(r["cos"][i]),
                    r["lex"].get(v, 0) / mx,
                    r["lex_body"].get(v, 0) / mxb,
                    cover,
                    ctxc,
                    sent,
                    rrf * 60,
                    novel,
                    p.ordinal / max(1, data["counts"][p.briefing_id]),
                    math.log1p(len(p.text.split())),
                    docs[0],
                    sum(docs[:3]) / 3,
                    float(r["cos"][i]) ** 2,
                ]
            )
        X.append(np.array(feats, dtype=np.float32))
        Y.append(np.array(r["hit"], dtype=bool))
    return X, Y, names


def score(X: list[np.ndarray], Y: list[np.ndarray], w: np.ndarray) -> tuple[float, float]:
    h1 = h5 = 0
    for x, y in zip(X, Y, strict=True):
        s = x @ w
        order = np.argsort(-s)
        h1 += bool(y[order[0]])
        h5 += bool(y[order[:5]].any())
    return h1 / len(X), h5 / len(X)


def search() -> None:
    sets = {name: features(name) for name in SETS}
    names = sets[SETS[0]][2]
    print("features", names)

    def evaluate(w: np.ndarray) -> dict[str, tuple[float, float]]:
        return {n: score(X, Y, w) for n, (X, Y, _) in sets.items()}

    def objective(res: dict[str, tuple[float, float]]) -> float:
        return sum(h1 + 0.5 * h5 for h1, h5 in res.values())

    for i, nm in enumerate(names):
        w = np.zeros(len(names))
        w[i] = 1
        print(f"only {nm:6}", {k: tuple(round(x, 3) for x in v) for k, v in evaluate(w).items()})
    best = np.zeros(len(names))
    best[names.index("cos")] = 1.0
    best[names.index("bm25")] = 0.35
    best[names.index("cover")] = 0.3
    for nm in EXCLUDE:
        best[names.index(nm)] = 0.0
    best_obj = objective(evaluate(best))
    print("start", best_obj, evaluate(best))
    steps = [0.4, 0.2, 0.1, 0.05]
    for step in steps:
        improved = True
        while improved:
            improved = False
            for i in range(len(names)):
                if names[i] in EXCLUDE:
                    continue
                for d in (step, -step):
                    w = best.copy()
                    w[i] += d
                    o = objective(evaluate(w))
                    if o > best_obj + 1e-9:
                        best, best_obj, improved = w, o, True
            print(step, round(best_obj, 4), dict(zip(names, np.round(best, 3), strict=True)))
    print("final", evaluate(best))


if __name__ == "__main__" and sys.argv[1] == "search":
    SUFFIX = sys.argv[2] if len(sys.argv) > 2 else ""
    search()

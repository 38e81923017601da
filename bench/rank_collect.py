"""Collect, once, everything the rank score and the confidence are computed from, for every
question of the three tune sets (squad2-dev-tune, realtimeqa-2022, the natural set), so that
rank scores and labels can be tried offline (``bench/rank_search.py``) without re-running evals.

    python bench/rank_collect.py [SET ...]      # default: all three; indexes are kept in CACHE

Per question: the question, its kind and split, the query vector, a wide candidate pool (dense,
BM25 and best-sentence dense search, 100 each) with the product's own features, the stored passages (text, sentences,
sentence vectors) and whether each candidate is a hit. SQuAD and RealTime QA also get the other
set's questions as off-topic ones (kind ``off_topic``), as ``briefbot eval --offtopic`` asks them.
CACHE is ``$BRIEFBOT_RANK_CACHE`` (default /tmp/briefbot-rank). Dev tool: reads ../shared.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import Embedder
from index.encoders import make_embedder
from index.evaluation import EvalQuery, build_eval_service, is_hit, load_any
from index.natural_set import find_shared
from index.rerank import RerankOptions, candidate_features, idf_weights
from index.store import query_terms

REPO = Path(__file__).resolve().parents[1]
SHARED = find_shared(REPO)
CACHE = Path(os.environ.get("BRIEFBOT_RANK_CACHE", "/tmp/briefbot-rank"))
SETS = {
    "squad2-dev-tune": SHARED / "eval" / "squad2-dev-tune",
    "realtimeqa-2022": SHARED / "eval" / "realtimeqa-2022",
    "natural": REPO / "bench" / "natural",
}
POOL = 100
# Off-topic questions for a set: the other public set's questions (answerable ones, first N).
OFFTOPIC = {"squad2-dev-tune": ("realtimeqa-2022", 115), "realtimeqa-2022": ("squad2-dev-tune", 500)}


def offtopic_queries(name: str) -> list[EvalQuery]:
    if name not in OFFTOPIC:
        return []
    other, limit = OFFTOPIC[name]
    rows = [
        json.loads(line) for line in (SETS[other] / "queries.jsonl").read_text().splitlines() if line.strip()
    ]
    rows = [r for r in rows if r.get("answerable", True)][:limit]
    return [
        EvalQuery(f"offtopic-{i}", str(r["text"]), answerable=False, kind="off_topic")
        for i, r in enumerate(rows)
    ]


def collect(name: str, emb: Embedder) -> None:
    eval_set = load_any(SETS[name])
    t0 = time.time()
    service, _ = build_eval_service(eval_set, CACHE / name, emb)
    print(name, "indexed in", round(time.time() - t0, 1), "s", flush=True)
    searcher = service.searcher()
    store, vectors = searcher.index.store, searcher.index.vectors
    n_passages = searcher.index.manifest.passages
    options = RerankOptions()
    sent_vids, sent_matrix = sentence_matrix(store)
    questions: list[dict[str, Any]] = []
    passages: dict[int, Any] = {}
    t0 = time.time()
    for q in [*eval_set.queries, *offtopic_queries(name)]:
        qvec = emb.encode_query(q.text)
        terms = query_terms(q.text)
        dense = vectors.search(qvec, POOL)
        lexical = store.lexical_search(terms, POOL, options.field_weights)
        by_sentence = sentence_search(sent_vids, sent_matrix, qvec, POOL)
        vids = list(
            dict.fromkeys([v for v, _ in dense] + [v for v, _ in lexical] + [v for v, _ in by_sentence])
        )
        stored = store.passages(vids)
        vids = [v for v in vids if v in stored]
        vecs = vectors.get(vids) if vids else None
        df = store.document_frequencies(terms)
        idf = idf_weights(terms, df, n_passages)
        cands = (
            candidate_features(
                q.text,
                qvec,
                idf,
                [stored[v] for v in vids],
                vecs,
                dict(lexical),
                searcher.index.briefing,
                options,
                df=df,
                n_docs=n_passages,
            )
            if vids
            else []
        )
        for v in vids:
            passages.setdefault(v, stored[v])
        questions.append(
            {
                "id": q.query_id,
                "text": q.text,
                "kind": q.kind,
                "split": q.split,
                "answerable": q.answerable,
                "qvec": qvec,
                "terms": terms,
                "idf": idf,
                "df": df,
                "dense_rank": {v: i for i, (v, _) in enumerate(dense)},
                "lexical_rank": {v: i for i, (v, _) in enumerate(lexical)},
                "sentence_rank": {v: i for i, (v, _) in enumerate(by_sentence)},
                "vids": vids,
                "features": [c.features for c in cands],
                "highlight": [c.highlight for c in cands],
                "hit": [bool(q.answerable and is_hit(stored[v].passage.text, q)) for v in vids],
                "gold": q.gold_passages,
                "answers": q.answers,
            }
        )
    metas = {m.briefing_id: m for m in searcher.index.briefings()}
    print(name, len(questions), "questions in", round(time.time() - t0, 1), "s", flush=True)
    with (CACHE / f"{name}.pkl").open("wb") as fh:
        pickle.dump({"questions": questions, "passages": passages, "metas": metas, "n": n_passages}, fh)


def sentence_matrix(store: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every sentence vector of the index with its passage id (what a sentence index holds)."""
    vids: list[int] = []
    mats: list[np.ndarray] = []
    for sp in store.iter_passages():
        if sp.sentence_vectors is not None and len(sp.sentence_vectors):
            vids.extend([sp.passage.vid] * len(sp.sentence_vectors))
            mats.append(sp.sentence_vectors)
    return np.array(vids, dtype=np.int64), np.vstack(mats).astype(np.float32)


def sentence_search(
    vids: np.ndarray, matrix: np.ndarray, qvec: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """Passages ranked by their best sentence's cosine, top ``k``."""
    scores = matrix @ qvec
    order = np.argsort(-scores)
    out: dict[int, float] = {}
    for i in order[: 20 * k]:
        v = int(vids[i])
        if v not in out:
            out[v] = float(scores[i])
            if len(out) >= k:
                break
    return list(out.items())


if __name__ == "__main__":
    CACHE.mkdir(exist_ok=True)
    # The encoder briefbot eval uses (BRIEFBOT_ENCODER, default auto), so its --workdir reuses these indexes.
    embedder = make_embedder(
        "all-MiniLM-L6-v2", os.environ.get("BRIEFBOT_ENCODER", "auto"), cache_dir=CACHE / "encoders"
    )
    for set_name in sys.argv[1:] or list(SETS):
        collect(set_name, embedder)

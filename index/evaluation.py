"""``briefbot eval``: retrieval and abstention figures on a public question set.

The set's ``corpus.jsonl`` is written out as briefing files and indexed through the product's
own parser, chunker and index; every question goes through the product's own answering path.
A quote is a hit when it overlaps the gold ``passage`` (sets with ``evidence.jsonl`` passages),
else when it contains an ``answers`` string; natural-question sets (``index.natural_set``) need
both: the gold paragraph and its answer string. Formats: ``../shared/eval/README.md``.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from index.build import BuildOptions
from index.embedder import Embedder, SentenceTransformerEmbedder
from index.models import Answer
from index.natural_set import is_natural_set, load_natural
from index.service import BriefingService, ServiceConfig

KS = (1, 3, 5, 10)


@dataclass
class EvalQuery:
    query_id: str
    text: str
    answerable: bool
    gold_passages: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    gold_docs: set[str] = field(default_factory=set)
    kind: str = ""  # answerable | unanswerable | near_miss | off_topic
    split: str | None = None  # tune | heldout (natural-question sets)
    require_answer: bool = False  # a hit must overlap the gold passage AND contain an answer string

    def __post_init__(self) -> None:
        if not self.kind:
            self.kind = "answerable" if self.answerable else "unanswerable"


@dataclass
class EvalSet:
    name: str
    corpus: list[dict[str, Any]]
    queries: list[EvalQuery]
    files: dict[str, str] = field(default_factory=dict)  # briefing files written verbatim


def load_any(directory: Path, limit: int | None = None, shared: Path | None = None) -> EvalSet:
    """A public set (``corpus.jsonl`` ...) or a natural-question set (``sources.json``)."""
    if is_natural_set(directory):
        return load_natural_set(directory, limit, shared)
    return load_set(directory, limit)


def load_natural_set(directory: Path, limit: int | None = None, shared: Path | None = None) -> EvalSet:
    natural = load_natural(directory, shared)
    queries = [
        EvalQuery(
            query_id=q.id,
            text=q.text,
            answerable=q.kind == "answerable",
            gold_passages=[q.gold] if q.gold else [],
            answers=[q.answer] if q.answer else [],
            kind=q.kind,
            split=q.split,
            require_answer=True,
        )
        for q in natural.questions
    ]
    if limit is not None:
        queries = queries[:limit]
    return EvalSet(natural.name, natural.rows, queries, natural.files)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_set(directory: Path, limit: int | None = None) -> EvalSet:
    """Read ``corpus.jsonl``, ``queries.jsonl``, ``qrels.tsv`` and ``evidence.jsonl``."""
    corpus = _jsonl(directory / "corpus.jsonl")
    rows = _jsonl(directory / "queries.jsonl")
    evidence: dict[str, list[str]] = {}
    for ev in _jsonl(directory / "evidence.jsonl"):
        if "passage" in ev:
            evidence.setdefault(str(ev["query_id"]), []).append(str(ev["passage"]))
    qrels: dict[str, set[str]] = {}
    qrels_path = directory / "qrels.tsv"
    if qrels_path.exists():
        for line in qrels_path.read_text(encoding="utf-8").splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) >= 2:
                qrels.setdefault(parts[0], set()).add(parts[1])
    queries = [
        EvalQuery(
            query_id=str(r["id"]),
            text=str(r["text"]),
            answerable=bool(r.get("answerable", True)),
            gold_passages=evidence.get(str(r["id"]), []),
            answers=[str(a) for a in r.get("answers", []) or []],
            gold_docs=qrels.get(str(r["id"]), set()),
        )
        for r in rows
    ]
    if limit is not None:
        queries = queries[:limit]
    return EvalSet(directory.name, corpus, queries)


def write_corpus(rows: Iterable[dict[str, Any]], dest: Path) -> dict[str, str]:
    """Write each document as a briefing (``.txt`` with front matter); returns file id -> doc id."""
    dest.mkdir(parents=True, exist_ok=True)
    ids: dict[str, str] = {}
    for row in rows:
        doc_id = str(row["id"])
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", doc_id).strip("._") or "doc"
        while safe in ids:
            safe += "_"
        ids[safe] = doc_id
        front: dict[str, Any] = {"title": row.get("title") or doc_id}
        if row.get("published_at"):
            front["date"] = str(row["published_at"])[:10]
        for key in ("source", "url"):
            if row.get(key):
                front[key] = str(row[key])
        head = yaml.safe_dump(front, allow_unicode=True, sort_keys=False)
        (dest / f"{safe}.txt").write_text(f"---\n{head}---\n\n{row['text']}\n", encoding="utf-8")
    return ids


_QUOTES = str.maketrans("", "", "\"'“”‘’`")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().translate(_QUOTES)
    return " ".join(text.split())


def is_hit(quote_text: str, q: EvalQuery) -> bool:
    """A quote answers ``q``: it overlaps a gold passage, or contains an answer string."""
    qt = _norm(quote_text)
    has_answer = any(_norm(a) and _norm(a) in qt for a in q.answers)
    if q.gold_passages:
        overlaps = any(_overlaps(qt, _norm(gold)) for gold in q.gold_passages)
        return overlaps and (has_answer or not q.require_answer)
    return has_answer


def _overlaps(qt: str, g: str) -> bool:
    return qt in g or g in qt or _overlap(qt, g) >= 0.5


def _overlap(a: str, b: str) -> float:
    """Share of the shorter text's words that appear, in order, as a run in the longer."""
    wa, wb = a.split(), b.split()
    if not wa or not wb:
        return 0.0
    short, long_ = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    grams = {tuple(long_[i : i + 8]) for i in range(max(1, len(long_) - 7))}
    covered = sum(1 for i in range(max(1, len(short) - 7)) if tuple(short[i : i + 8]) in grams)
    return covered / max(1, len(short) - 7)


@dataclass
class QueryResult:
    query: EvalQuery
    answer: Answer
    ms: float
    first_hit: int | None  # 1-based rank of the first hit quote


def evaluate(
    service: BriefingService,
    queries: list[EvalQuery],
    *,
    k: int = 10,
    file_to_doc: dict[str, str] | None = None,
    progress: bool = False,
) -> list[QueryResult]:
    service.ask("warm up question", k=1)
    out: list[QueryResult] = []
    for q in tqdm(queries, desc="Asking", disable=not progress, leave=False):
        t0 = time.perf_counter()
        answer = service.ask(q.text, k=k)
        ms = (time.perf_counter() - t0) * 1000
        first = next((i + 1 for i, qt in enumerate(answer.quotes) if is_hit(qt.text, q)), None)
        out.append(QueryResult(q, answer, ms, first))
    return out


def summarise(
    results: list[QueryResult],
    offtopic: list[QueryResult] | None = None,
    file_to_doc: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``--json`` object: hit@k, MRR@10, abstention shares, latency, counts; per split when
    the set has a held-out split."""
    data = _figures(results, offtopic or [])
    every = [r.ms for r in results + (offtopic or [])]
    data["latency_ms_p50"] = round(statistics.median(every), 1) if every else None
    data["latency_ms_p95"] = round(_percentile(every, 95), 1) if every else None
    with_docs = [r for r in results if r.query.gold_docs]
    if with_docs and file_to_doc is not None:
        data["ndcg@10"] = round(sum(_ndcg(r, file_to_doc) for r in with_docs) / len(with_docs), 4)
    splits = sorted({r.query.split for r in results if r.query.split})
    if len(splits) > 1:
        data["splits"] = {
            name: _figures([r for r in results if r.query.split == name], []) for name in splits
        }
    return data


def _figures(results: list[QueryResult], offtopic: list[QueryResult]) -> dict[str, Any]:
    answerable = [r for r in results if r.query.answerable and (r.query.gold_passages or r.query.answers)]
    of_kind = {kind: [r for r in results if r.query.kind == kind] for kind in ("unanswerable", "near_miss")}
    off = offtopic + [r for r in results if r.query.kind == "off_topic"]
    n = len(answerable) or 1
    data: dict[str, Any] = {}
    for kk in KS:
        data[f"hit@{kk}"] = round(sum(1 for r in answerable if r.first_hit and r.first_hit <= kk) / n, 4)
    data["mrr@10"] = round(
        sum(1 / r.first_hit for r in answerable if r.first_hit and r.first_hit <= 10) / n, 4
    )
    data["abstain_unanswerable"] = _abstain_share(of_kind["unanswerable"])
    data["abstain_near_miss"] = _abstain_share(of_kind["near_miss"])
    data["abstain_offtopic"] = _abstain_share(off)
    data["false_abstain"] = _abstain_share(answerable)
    data["queries"] = len(results)
    data["answerable"] = len(answerable)
    data["unanswerable"] = len(of_kind["unanswerable"])
    data["near_miss"] = len(of_kind["near_miss"])
    data["offtopic"] = len(off)
    return data


def _abstain_share(results: list[QueryResult]) -> float | None:
    return round(sum(r.answer.abstained for r in results) / len(results), 4) if results else None


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[idx]


def _ndcg(r: QueryResult, file_to_doc: dict[str, str]) -> float:
    ranked: list[str] = []
    for q in r.answer.quotes:
        doc = file_to_doc.get(q.briefing_id, q.briefing_id)
        if doc not in ranked:
            ranked.append(doc)
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in r.query.gold_docs)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(r.query.gold_docs))))
    return dcg / ideal if ideal else 0.0


def dump_results(results: list[QueryResult], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in results:
            row = {
                "query_id": r.query.query_id,
                "abstained": r.answer.abstained,
                "quotes": [
                    {
                        "text": q.text,
                        "briefing_id": q.briefing_id,
                        "paragraph": q.attribution.paragraph,
                        "score": q.score,
                    }
                    for q in r.answer.quotes
                ],
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def build_eval_service(
    eval_set: EvalSet,
    workdir: Path,
    embedder: Embedder,
    progress: Callable[[str, int, int], None] | None = None,
    build: BuildOptions | None = None,
    database_url: str | None = None,
    corpus_key: str = "eval",
) -> tuple[BriefingService, dict[str, str]]:
    """Index an evaluation set's corpus in ``workdir`` with the product's own pipeline (into the
    PostgreSQL database at ``database_url`` as corpus ``corpus_key``, when given)."""
    corpus_dir = workdir / "corpus"
    file_to_doc = write_corpus(eval_set.corpus, corpus_dir)
    for rel, text in eval_set.files.items():
        path = corpus_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    # Questions are not dated: "today" is after every document, so "latest" means newest.
    config = ServiceConfig(
        corpus_dir,
        workdir / "index",
        build=build or BuildOptions(),
        database_url=database_url,
        corpus_key=corpus_key,
    )
    service = BriefingService(config, embedder, today=date.today)
    service.reindex(progress=progress)
    return service, file_to_doc


def run_eval(
    dataset: Path,
    *,
    model: str = "all-MiniLM-L6-v2",
    limit: int | None = None,
    offtopic: Path | None = None,
    dump: Path | None = None,
    k: int = 10,
    progress: bool = True,
    index_progress: Callable[[str, int, int], None] | None = None,
    workdir: Path | None = None,
    embedder: Embedder | None = None,
    shared: Path | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Index ``dataset`` into a temporary index (or ``workdir``, kept and updated incrementally),
    ask every question, return the figures.

    With ``database_url`` the index is built in PostgreSQL, as a corpus of its own named after
    the set (``eval-<set>``; with a temporary folder, a fresh one removed at the end), so the bot's
    own corpora in the same database are never touched."""
    eval_set = load_any(dataset, limit, shared)
    emb = embedder or SentenceTransformerEmbedder(model)
    with tempfile.TemporaryDirectory(prefix="briefbot-eval-") as tmp:
        root = workdir or Path(tmp)
        key = f"eval-{eval_set.name}" + ("" if workdir else f"-{Path(tmp).name}")
        t0 = time.perf_counter()
        service, file_to_doc = build_eval_service(
            eval_set, root, emb, index_progress, database_url=database_url, corpus_key=key
        )
        try:
            return _measure(
                service, eval_set, file_to_doc, time.perf_counter() - t0, offtopic, limit, dump, k, progress
            )
        finally:
            if database_url and workdir is None:
                drop_corpus(service)


def drop_corpus(service: BriefingService) -> None:
    """Remove a database corpus and everything in it (an evaluation's own, when it is done)."""
    from index.pg.backend import PgBackend

    backend = service.backend
    if isinstance(backend, PgBackend):
        backend.drop()


def _measure(
    service: BriefingService,
    eval_set: EvalSet,
    file_to_doc: dict[str, str],
    index_seconds: float,
    offtopic: Path | None,
    limit: int | None,
    dump: Path | None,
    k: int,
    progress: bool,
) -> dict[str, Any]:
    """Ask every question of the set (and the off-topic ones) and sum the figures up."""
    results = evaluate(service, eval_set.queries, k=k, progress=progress)
    off_results: list[QueryResult] | None = None
    if offtopic is not None:
        off_queries = [
            EvalQuery(f"offtopic-{i}", str(r["text"]), answerable=False)
            for i, r in enumerate(_jsonl(offtopic))
        ]
        if limit is not None:
            off_queries = off_queries[:limit]
        off_results = evaluate(service, off_queries, k=k, progress=progress)
    data = summarise(results, off_results, file_to_doc)
    data["dataset"] = eval_set.name
    data["passages"] = service.status().passages
    data["index_seconds"] = round(index_seconds, 1)
    data["engine"] = service.status().engine
    if dump is not None:
        dump_results(results + (off_results or []), dump)
    return data


def format_result(data: dict[str, Any]) -> str:
    """The human-readable table printed by ``briefbot eval``."""
    engine = f" ({data['engine']})" if data.get("engine") else ""
    lines = [
        f"{data.get('dataset', '')}: {data['queries']} questions over {data.get('passages', '?')} passages{engine}"
    ]
    lines.extend(_figure_lines(data, "  "))
    for name, figures in data.get("splits", {}).items():
        lines.append(f"  {name} split ({figures['queries']} questions):")
        lines.extend(_figure_lines(figures, "    "))
    if data.get("ndcg@10") is not None:
        lines.append(f"  document nDCG@10: {data['ndcg@10']:.3f}")
    lines.append(f"  query latency p50 {data['latency_ms_p50']} ms, p95 {data['latency_ms_p95']} ms")
    return "\n".join(lines)


def _figure_lines(data: dict[str, Any], indent: str) -> list[str]:
    lines = [
        indent
        + "paragraph hit@1 {hit@1:.3f}  hit@3 {hit@3:.3f}  hit@5 {hit@5:.3f}  hit@10 {hit@10:.3f}  "
        "MRR@10 {mrr@10:.3f}".format(**data)
    ]
    for key, label in (
        ("abstain_unanswerable", "unanswerable questions that abstain"),
        ("abstain_near_miss", "near-miss questions that abstain"),
        ("abstain_offtopic", "off-topic questions that abstain"),
        ("false_abstain", "answerable questions that wrongly abstain"),
    ):
        if data.get(key) is not None:
            lines.append(f"{indent}{label}: {data[key]:.3f}")
    return lines

"""Question -> ranked, attributed quotes (or an explicit abstention), from one index version.

Retrieval is hybrid: dense (FAISS, cosine) and BM25 (FTS5's scores, from ``terms``) candidates, fused and then
reranked with cheap signals (see ``rerank``). Confidence is calibrated (``confidence``) and
shown as bands, never as raw cosine numbers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

import numpy as np

# Re-exported: the audience model lives in index.audience.
from index.audience import EVERYONE as EVERYONE
from index.audience import LOCAL_USER as LOCAL_USER
from index.audience import Viewer as Viewer
from index.backend import PassageFilter, VersionMeta, VersionReader
from index.confidence import Calibration
from index.dedupe import collapse_duplicates, demote_restated_takeaways
from index.embedder import Embedder
from index.manifest import Manifest, read_manifest, verify
from index.models import Answer, Attribution, BriefingMeta, Passage, Quote
from index.rerank import Candidate, RerankOptions, candidate_features, idf_weights, rerank
from index.store import Store, StoredPassage, query_terms
from index.terms import TermIndex
from index.timeparse import TimeIntent, parse_time
from index.vectors import EXACT_LIMIT, FilterCache
from index.version_vectors import load_version_vectors

STORE_FILE = "store.sqlite3"
COMMON_SHARE = 0.2  # see lexical_terms
COMMON_CUT_FROM = EXACT_LIMIT  # passages: the size from which dense search turns to IVF too
RELATIVE_STRONG = 0.75  # share of the best quote's confidence a strong quote needs
# Filters whose passage lists are kept: an answer asks for the same one twice (dense, lexical),
# and a public viewer's (every briefing but the restricted ones) comes back with every question.
ALLOWED_CACHE = 4
RESTRICT_ROWS = 30  # a filter of at most this many passages is searched by FTS5 row by row
FILTERED_LIMIT = 5_000  # lexical hits read before a wider filter is applied


@dataclass(frozen=True)
class SearchOptions:
    k: int = 5
    candidates: int = 60
    rerank: RerankOptions = field(default_factory=RerankOptions)


@dataclass
class Query:
    question: str
    k: int = 5
    viewer: Viewer = LOCAL_USER
    briefing_id: str | None = None
    since: date | None = None
    until: date | None = None
    today: date | None = None


class IndexVersion:
    """One complete, verified index version opened for reading: the file backend's
    ``index.backend.VersionReader`` (SQLite store + FAISS vectors in one version folder)."""

    def __init__(self, directory: Path, *, verify_checksums: bool = True) -> None:
        self.directory = directory
        self.manifest: Manifest = read_manifest(directory)
        verify(directory, self.manifest, checksums=verify_checksums)
        self.version = self.manifest.version
        self.meta = version_meta(self.manifest)
        self.store = Store(directory / STORE_FILE, readonly=True, dim=self.manifest.dim)
        self.vectors = load_version_vectors(directory)
        # Versions written before the term weights existed search FTS5 directly.
        self.terms = TermIndex.open(directory)
        if self.terms is not None and self.terms.passages != self.meta.passages:
            raise RuntimeError(
                f"{directory.name}: the term weights hold {self.terms.passages} passages, "
                f"the store {self.meta.passages}"
            )
        self._metas: dict[str, BriefingMeta] = {m.briefing_id: m for m in self.store.briefings()}
        self.restricted = {bid: m.audience for bid, m in self._metas.items() if not m.is_public}
        self._allowed: dict[PassageFilter, list[int]] = {}  # the last few filters' passages
        self._allowed_sets = FilterCache()
        self._allowed_lock = threading.Lock()

    def briefing(self, briefing_id: str) -> BriefingMeta | None:
        return self._metas.get(briefing_id)

    def briefings(self) -> list[BriefingMeta]:
        return list(self._metas.values())

    def briefing_hashes(self) -> dict[str, tuple[str, str]]:
        return self.store.briefing_hashes()

    def counts(self) -> tuple[int, int]:
        return self.store.counts()

    def reading(self) -> AbstractContextManager[None]:
        """Nothing to hold: a sealed version folder never changes."""
        return contextlib.nullcontext()

    def allowed(self, where: PassageFilter) -> list[int]:
        """The vids a filter admits (kept for the last few filters: one answer asks twice)."""
        with self._allowed_lock:
            found = self._allowed.get(where)
        if found is None:
            found = self.store.vids_where(
                date_from=where.date_from,
                date_to=where.date_to,
                briefing_ids=where.briefing_ids,
                exclude_briefings=where.exclude_briefings,
            )
            with self._allowed_lock:
                while len(self._allowed) >= ALLOWED_CACHE:
                    self._allowed.pop(next(iter(self._allowed)))
                self._allowed[where] = found
        return found

    def dense_search(
        self, qvec: np.ndarray, k: int, where: PassageFilter | None = None
    ) -> list[tuple[int, float]]:
        return self.vectors.search(qvec, k, self.allowed(where) if where is not None else None)

    def lexical_search(
        self,
        terms: Sequence[str],
        k: int,
        field_weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        where: PassageFilter | None = None,
    ) -> list[tuple[int, float]]:
        allowed = self.allowed(where) if where is not None else None
        if self.terms is not None and tuple(field_weights) == self.terms.field_weights:
            return self.terms.search(terms, k, allowed)
        # FTS5 restricted to a list of row ids looks each one up in every word's postings (about
        # a millisecond per row at 175,000 passages): beyond a few rows, search everything and
        # keep the allowed rows of the first FILTERED_LIMIT (same scores, fewer lost than when
        # only the first k were kept).
        only = allowed if allowed is not None and len(allowed) <= RESTRICT_ROWS else None
        limit = k if allowed is None or only is not None else max(k, FILTERED_LIMIT)
        found = self.store.lexical_search(terms, limit, field_weights, only)
        if allowed is not None and only is None:
            ok = self._allowed_set(allowed)
            found = [(v, s) for v, s in found if v in ok][:k]
        return found

    def _allowed_set(self, allowed: list[int]) -> frozenset[int]:
        return self._allowed_sets.get(allowed, lambda: frozenset(allowed))

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        if self.terms is not None:
            return self.terms.frequencies(terms)
        return self.store.document_frequencies(terms)

    def fetch(self, vids: Sequence[int]) -> tuple[list[StoredPassage], np.ndarray]:
        stored = self.store.passages(vids)
        found = [v for v in vids if v in stored]
        return [stored[v] for v in found], self.vectors.get(found)

    def passage_by_id(self, passage_id: str) -> StoredPassage | None:
        return self.store.passage_by_id(passage_id)

    def neighbours(self, briefing_id: str, ordinal: int, before: int = 1, after: int = 1) -> list[Passage]:
        return self.store.neighbours(briefing_id, ordinal, before, after)

    def briefing_passages(self, briefing_id: str) -> list[Passage]:
        return self.store.briefing_passages(briefing_id)

    def iter_passages(self) -> Iterator[StoredPassage]:
        return self.store.iter_passages()

    def reusable_vectors(
        self, embed_hashes: Iterable[str]
    ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        return reusable_vectors(self.store, self.vectors, embed_hashes)

    def close(self) -> None:
        self.store.close()


def version_meta(manifest: Manifest) -> VersionMeta:
    return VersionMeta(
        version=manifest.version,
        created_at=manifest.created_at,
        model=manifest.model,
        dim=manifest.dim,
        chunker=manifest.chunker,
        briefings=manifest.briefings,
        passages=manifest.passages,
        build_seconds=manifest.build_seconds,
        parent=manifest.parent,
        engine=f"faiss {manifest.faiss_version}",
    )


class StoredVectors(Protocol):
    """Any vector set that gives back stored vectors by id (KeyError for an unknown id)."""

    def get(self, ids: Sequence[int]) -> np.ndarray: ...


def reusable_vectors(
    store: Store, vectors: StoredVectors, embed_hashes: Iterable[str]
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Vectors (and sentence vectors) a version already holds for the same embedded text and
    model, by embed hash; none when its vector file lacks some (they are all computed again)."""
    by_hash = store.vids_by_embed_hash(embed_hashes)
    if not by_hash:
        return {}
    hashes = list(by_hash)
    vids = [by_hash[h] for h in hashes]
    stored = store.passages(vids)
    try:
        vecs = vectors.get(vids)
    except KeyError:
        return {}
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for i, (h, vid) in enumerate(zip(hashes, vids, strict=True)):
        sp = stored.get(vid)
        out[h] = (vecs[i], sp.sentence_vectors if sp is not None else None)
    return out


class Searcher:
    """Answers questions from one index version (either backend's reader) with one embedder."""

    def __init__(
        self,
        version: VersionReader,
        embedder: Embedder,
        calibration: Calibration,
        options: SearchOptions | None = None,
    ) -> None:
        self.index = version
        self.embedder = embedder
        self.calibration = calibration
        self.options = options or SearchOptions()

    def answer(self, query: Query) -> Answer:
        """The answer to one question; every read sees the same snapshot of the version."""
        with self.index.reading():
            return self._answer(query)

    def _answer(self, query: Query) -> Answer:
        t0 = time.perf_counter()
        today = query.today or date.today()
        intent = parse_time(query.question, today)
        date_from = query.since or (intent.date_from if not intent.soft else None)
        date_to = query.until or (intent.date_to if not intent.soft else None)
        notes: list[str] = []
        text = intent.query if intent.has_range and not intent.soft else query.question
        if not text.strip(" ?"):
            text = query.question

        hidden = [bid for bid, aud in self.index.restricted.items() if not query.viewer.may_see(aud)]
        filtered = date_from is not None or date_to is not None or query.briefing_id is not None
        where: PassageFilter | None = None
        if filtered or hidden:
            where = PassageFilter(
                date_from=date_from,
                date_to=date_to,
                briefing_ids=(query.briefing_id,) if query.briefing_id else None,
                exclude_briefings=tuple(sorted(hidden)),
            )

        rerank_options = self.options.rerank
        if intent.soft:
            rerank_options = dataclasses.replace(
                rerank_options, date_from=intent.date_from, date_to=intent.date_to
            )
        qvec = self.embedder.encode_query(text)
        candidates = self._candidates(text, qvec, where, rerank_options)
        weak = not candidates or max(c.confidence for c in candidates) < self.calibration.answer_at
        explicit = query.since is not None or query.until is not None
        dated = date_from is not None or date_to is not None
        fell_back = dated and weak and not explicit
        if fell_back:
            # Time words in a question narrow the search; when nothing in that window answers,
            # the closest passages from any date beat silence (and the answer says so).
            span = TimeIntent(date_from, date_to).describe()
            notes.append(f"No briefing {span} answers this confidently; showing matches from any date.")
            where_any = (
                None
                if not hidden and query.briefing_id is None
                else PassageFilter(
                    briefing_ids=(query.briefing_id,) if query.briefing_id else None,
                    exclude_briefings=tuple(sorted(hidden)),
                )
            )
            candidates = self._candidates(text, qvec, where_any, rerank_options)
        elif dated:
            notes.append(f"Only briefings {TimeIntent(date_from, date_to).describe()}.")

        quotes = self._quotes(candidates, query.k)
        abstained = not any(q.strength == "strong" for q in quotes)
        answer = Answer(
            question=query.question,
            abstained=abstained,
            quotes=quotes,
            index_version=self.index.version,
            notes=notes,
            date_from=date_from,
            date_to=date_to,
        )
        # When the asked window had nothing and any date was searched, relevance decides.
        _order_by_time(answer, prefer_recent=intent.prefer_recent and not fell_back)
        answer.elapsed_ms = (time.perf_counter() - t0) * 1000
        return answer

    # ------------------------------------------------------------------ steps

    def _candidates(
        self, text: str, qvec: np.ndarray, where: PassageFilter | None, rerank_options: RerankOptions
    ) -> list[Candidate]:
        n = self.options.candidates
        dense = self.index.dense_search(qvec, n, where)
        terms = query_terms(text)
        n_passages = self.index.meta.passages
        df = self.index.document_frequencies(terms)
        searched = lexical_terms(terms, df, n_passages)
        lexical = self.index.lexical_search(searched, n, self.options.rerank.field_weights, where)
        vids = list(dict.fromkeys([v for v, _ in dense] + [v for v, _ in lexical]))
        stored, vecs = self.index.fetch(vids)
        if not stored:
            return []
        idf = idf_weights(terms, df, n_passages)
        cands = candidate_features(
            text,
            qvec,
            idf,
            stored,
            vecs,
            dict(lexical),
            self.index.briefing,
            rerank_options,
            dense_rank={v: i for i, (v, _) in enumerate(dense)},
            df=df,
            n_docs=n_passages,
        )
        rerank(cands, rerank_options)
        for c in cands:
            c.confidence = self.calibration.confidence(c.features)
        return cands

    def rank(self, question: str) -> list[Candidate]:
        """Ranked candidates with their features, unfiltered (for calibration and tuning)."""
        qvec = self.embedder.encode_query(question)
        return self._candidates(question, qvec, None, self.options.rerank)

    def _quotes(self, candidates: list[Candidate], k: int) -> list[Quote]:
        groups = demote_restated_takeaways(collapse_duplicates(candidates))
        quotes: list[Quote] = []
        # A quote is strong when it is confident on its own, close to the best one (other
        # paragraphs of the right briefing are often confident but only about the topic), and
        # its highlighted sentence holds what was asked (a number for "how many", a name for
        # "who", a date for "when").
        best_conf = max((g[0].confidence for g in groups[:k]), default=0.0)
        floor = max(self.calibration.answer_at, RELATIVE_STRONG * best_conf)
        for group in groups[:k]:
            best = self._lead(group)
            meta = self.index.briefing(best.stored.passage.briefing_id)
            if meta is None:
                continue
            confidence = group[0].confidence
            quote = Quote(
                passage_id=best.stored.passage.passage_id,
                text=best.stored.passage.text,
                attribution=attribution(meta, best.stored.passage),
                score=confidence,
                strength="strong" if confidence >= floor and answers_asked(best) else "weak",
                start=best.stored.passage.start,
                end=best.stored.passage.end,
                highlight=best.highlight,
                audience=meta.audience,
            )
            for other in group:
                if other is best:
                    continue
                om = self.index.briefing(other.stored.passage.briefing_id)
                if om is not None:
                    quote.also_in.append(attribution(om, other.stored.passage))
            quotes.append(quote)
        # Rank order stays whatever the labels: the best-ranked quote comes first even when it is
        # weak (the public view filters to strong quotes; labels say which is which).
        return quotes

    def _lead(self, group: list[Candidate]) -> Candidate:
        """The restatement a quote shows: the best-ranked one from a public briefing if there is
        one (the same words, so the answer can be shared), else the best-ranked."""
        for cand in group:
            meta = self.index.briefing(cand.stored.passage.briefing_id)
            if meta is not None and meta.is_public:
                return cand
        return group[0]

    def passage(self, passage_id: str) -> tuple[Passage, BriefingMeta] | None:
        sp = self.index.passage_by_id(passage_id)
        if sp is None:
            return None
        meta = self.index.briefing(sp.passage.briefing_id)
        return (sp.passage, meta) if meta else None

    def context(self, passage_id: str, before: int = 1, after: int = 1) -> list[Passage]:
        sp = self.index.passage_by_id(passage_id)
        if sp is None:
            return []
        p = sp.passage
        return self.index.neighbours(p.briefing_id, p.ordinal, before, after)


def lexical_terms(terms: list[str], df: dict[str, int], n_passages: int) -> list[str]:
    """The question's words the lexical search looks up: in a large index, not those found in
    more than a fifth of all passages (the rank's word coverage still counts them). The cut was
    made for FTS5, which scored every passage holding such a word; with term weights it costs
    nothing either way, and leaving it out changed nothing measurable on the whole archive (150
    exact-wording questions: hit@1 0.393 against 0.400, hit@5 0.560 against 0.553; 48 natural
    ones identical), so the measured configuration stays. Below ``COMMON_CUT_FROM`` passages
    every word is searched."""
    if n_passages < COMMON_CUT_FROM:
        return terms
    kept = [t for t in terms if df.get(t, 0) <= COMMON_SHARE * n_passages]
    return kept or terms


def answers_asked(cand: Candidate) -> bool:
    """The highlighted sentence (or the passage) contains the kind of thing the question asks for."""
    return cand.features.get("type_ok_sentence", 1.0) >= 1.0


def attribution(meta: BriefingMeta, p: Passage) -> Attribution:
    return Attribution(
        briefing_id=meta.briefing_id,
        title=meta.title,
        date=meta.date,
        section=p.section_label,
        paragraph=p.paragraph,
        paragraph_label=p.paragraph_label,
        path=meta.path,
        url=meta.url,
        source=meta.source,
        page=p.page,
        added=meta.added,
    )


def _order_by_time(answer: Answer, *, prefer_recent: bool) -> None:
    """Dated answers: a question that asks for the latest gets its strong quotes newest first
    (in the places strong quotes hold, weak ones keep theirs); otherwise relevance order stays,
    and when strong quotes come from several dates the answer says so with a short timeline
    (the question had different answers over time)."""
    strong = [q for q in answer.quotes if q.strength == "strong"]
    if prefer_recent and len(strong) > 1:
        strong.sort(key=lambda q: q.attribution.date or date.min, reverse=True)
        newest = iter(strong)
        answer.quotes = [next(newest) if q.strength == "strong" else q for q in answer.quotes]
    dates = {q.attribution.date for q in strong if q.attribution.date is not None}
    if len(dates) < 2:
        return
    answer.timeline = True
    # Dates, not quote numbers: a channel shows the strong quotes alone, numbered differently
    # from the full answer, and every quote shows its date.
    steps = ", ".join(d.isoformat() for d in sorted(dates, reverse=True))
    order = "newest first" if prefer_recent else "most relevant first"
    answer.notes.append(f"Briefings from {len(dates)} dates answer this, {order}. Timeline: {steps}.")

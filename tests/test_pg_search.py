"""PostgreSQL backend, reading: dense and lexical search give the file backend's results and
scores, filters apply inside the search, passages come back whole."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from index.backend import PassageFilter
from index.build import reindex
from index.pg.backend import PgBackend
from index.pg.database import Database
from index.pg.lexical import matching_lexemes
from index.pg.reader import PgVersion, hnsw_query
from index.search import IndexVersion
from index.store import query_terms
from index.versions import IndexLayout
from tests.conftest import SAMPLE_CORPUS
from tests.fakes import FakeEmbedder
from tests.pg_helpers import build, open_db, parse_corpus
from tests.pgserver import PgServer

QUESTIONS = [
    "What did Iran supply to Russia?",
    "How many dock workers were hurt when the harbor crane collapsed?",
    "What did the Bank of Valmora decide about interest rates?",
    "wildfire season outlook Carrow",
    "reservoirs running low",
]
WEIGHTS = (0.5, 0.5, 1.0)


@dataclass
class Both:
    files: IndexVersion
    pg: PgVersion
    db: Database
    embedder: FakeEmbedder


@contextmanager
def indexed_by_both(server: PgServer, corpus: Path, files_dir: Path) -> Iterator[Both]:
    """``corpus`` indexed by both backends with the same embedder (a database of its own)."""
    emb = FakeEmbedder()
    layout = IndexLayout(files_dir)
    version = reindex(corpus, layout, emb).version
    assert version is not None
    files = IndexVersion(layout.version_dir(version))
    name = server.create_database()
    db = open_db(server.url(name))
    try:
        backend = PgBackend(db)
        yield Both(files, backend.open_version(build(backend, emb, parse_corpus(corpus, emb))), db, emb)
    finally:
        files.close()
        db.close()
        server.drop_database(name)


@pytest.fixture(scope="module")
def both(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    """The sample corpus indexed by both backends."""
    corpus = tmp_path_factory.mktemp("corpus") / "corpus"
    shutil.copytree(SAMPLE_CORPUS, corpus)
    with indexed_by_both(pg_server, corpus, tmp_path_factory.mktemp("files") / "index") as indexed:
        yield indexed


def _same_ranking(a: list[tuple[int, float]], b: list[tuple[int, float]], tol: float = 1e-5) -> None:
    """Same scores in the same order; passages with equal scores may come in either order."""
    assert len(a) == len(b)
    assert np.allclose([s for _, s in a], [s for _, s in b], atol=tol)
    for score in {round(s, 4) for _, s in a}:
        assert {v for v, s in a if round(s, 4) == score} == {v for v, s in b if round(s, 4) == score}


@pytest.mark.parametrize("question", QUESTIONS)
def test_exact_dense_search_ranks_as_faiss_does(both: Both, question: str) -> None:
    qvec = both.embedder.encode_query(question)
    # Compare the top 10 by score band: a tie at the cut may pick either passage.
    files = both.files.vectors.search(qvec, 20)[:10]
    pg = both.pg.dense_search(qvec, 20)[:10]
    _same_ranking(files, pg)


@pytest.mark.parametrize("question", QUESTIONS)
def test_lexical_search_gives_fts5_bm25_scores(both: Both, question: str) -> None:
    terms = query_terms(question)
    files = both.files.store.lexical_search(terms, 10, WEIGHTS)
    pg = both.pg.lexical_search(terms, 10, WEIGHTS)
    _same_ranking(files, pg, tol=1e-6)


def test_field_weights_change_lexical_scores_as_in_fts5(both: Both) -> None:
    terms = query_terms("Saltmere harbor crane")
    for weights in [(1.0, 1.0, 1.0), (3.0, 0.0, 1.0), (0.0, 2.0, 0.5)]:
        _same_ranking(
            both.files.store.lexical_search(terms, 10, weights),
            both.pg.lexical_search(terms, 10, weights),
            1e-6,
        )


def test_document_frequencies_count_passages_with_the_term(both: Both) -> None:
    terms = query_terms("Iran supply Russia harbor crane wildfire Lindenfall")
    assert both.pg.document_frequencies(terms) == both.files.store.document_frequencies(terms)


def test_a_question_of_stop_words_finds_nothing_lexically(both: Both) -> None:
    assert both.pg.lexical_search(query_terms("what is it about"), 10, WEIGHTS) == []
    assert both.pg.lexical_search([], 10, WEIGHTS) == []


def test_the_hnsw_index_answers_large_sets_with_the_exact_top_results(both: Both) -> None:
    approx = PgVersion(both.db, both.pg.corpus_id, both.pg.version, exact_max=0)
    for question in QUESTIONS:
        qvec = both.embedder.encode_query(question)
        exact = [v for v, _ in both.pg.dense_search(qvec, 5)]
        found = [v for v, _ in approx.dense_search(qvec, 5)]
        assert len(set(exact) & set(found)) >= 4, question


def test_the_hnsw_query_is_one_the_vector_index_serves(both: Both) -> None:
    # On 123 rows the planner rightly prefers a scan; without scans it must find the index.
    qvec = both.embedder.encode_query("harbor crane")
    d = both.pg.dim
    with both.db.connection() as con, con.transaction():
        con.execute("SET LOCAL enable_seqscan = off")
        explain = b"EXPLAIN " + hnsw_query(d)
        plan = "\n".join(r[0] for r in con.execute(explain, {"q": qvec, "revs": both.pg.revs(None), "k": 10}))
    assert f"Index Scan using passage_vectors_hnsw_{d}" in plan


@pytest.mark.parametrize("exact_max", [10_000, 0], ids=["exact", "hnsw"])
def test_a_filter_applies_inside_dense_search_and_still_fills_k(both: Both, exact_max: int) -> None:
    reader = PgVersion(both.db, both.pg.corpus_id, both.pg.version, exact_max=exact_max)
    only = "2024-09-12-saltmere-harbor-crane-collapse"
    hits = reader.dense_search(
        both.embedder.encode_query("Iran Russia drones"), 5, PassageFilter(briefing_ids=(only,))
    )
    stored, _ = reader.fetch([v for v, _ in hits])
    assert len(hits) == min(5, next(m.passages for b, m in reader._members.items() if b == only))
    assert {sp.passage.briefing_id for sp in stored} == {only}


def test_date_filters_keep_only_briefings_dated_in_the_range(both: Both) -> None:
    where = PassageFilter(date_from=date(2024, 9, 1), date_to=date(2024, 12, 31))
    for hits in (
        both.pg.dense_search(both.embedder.encode_query("harbor water rates"), 50, where),
        both.pg.lexical_search(query_terms("harbor water rates"), 50, WEIGHTS, where),
    ):
        stored, _ = both.pg.fetch([v for v, _ in hits])
        dates = {both.pg.briefing(sp.passage.briefing_id).date for sp in stored}  # type: ignore[union-attr]
        assert dates and all(d is not None and where.date_from <= d <= where.date_to for d in dates)  # type: ignore[operator]


def test_excluded_briefings_are_never_returned(both: Both) -> None:
    hidden = "000_457032d09a867f08"
    where = PassageFilter(exclude_briefings=(hidden,))
    question = "What did Iran supply to Russia?"
    for hits in (
        both.pg.dense_search(both.embedder.encode_query(question), 200, where),
        both.pg.lexical_search(query_terms(question), 200, WEIGHTS, where),
    ):
        stored, _ = both.pg.fetch([v for v, _ in hits])
        assert hits and all(sp.passage.briefing_id != hidden for sp in stored)


def test_fetch_returns_passages_and_vectors_as_the_file_backend_stores_them(both: Both) -> None:
    vids = [v for v, _ in both.files.vectors.search(both.embedder.encode_query("ferry harbor"), 8)]
    stored, vectors = both.pg.fetch([*vids, 12345])  # an unknown vid is left out
    expected = both.files.store.passages(vids)
    assert [sp.passage for sp in stored] == [expected[v].passage for v in vids]
    assert np.allclose(vectors, both.files.vectors.get(vids))
    for sp in stored:
        ref = expected[sp.passage.vid].sentence_vectors
        assert (sp.sentence_vectors is None) == (ref is None)
        if ref is not None:
            assert np.array_equal(sp.sentence_vectors, ref)  # type: ignore[arg-type]


def test_passages_by_id_neighbours_and_briefing_match_the_file_backend(both: Both) -> None:
    some = next(iter(both.files.store.iter_passages())).passage
    assert both.pg.passage_by_id(some.passage_id).passage == some  # type: ignore[union-attr]
    assert both.pg.passage_by_id("not-a-passage") is None
    bid = "2024-09-12-saltmere-harbor-crane-collapse"
    assert both.pg.briefing_passages(bid) == both.files.store.briefing_passages(bid)
    assert both.pg.neighbours(bid, 2, 1, 2) == both.files.store.neighbours(bid, 2, 1, 2)
    assert [sp.passage for sp in both.pg.iter_passages()] == [
        sp.passage for sp in both.files.store.iter_passages()
    ]


def test_briefing_metadata_matches_the_file_backend(both: Both) -> None:
    assert sorted(both.pg.briefings(), key=lambda m: m.briefing_id) == sorted(
        both.files.store.briefings(), key=lambda m: m.briefing_id
    )
    assert both.pg.briefing_hashes() == both.files.store.briefing_hashes()
    assert both.pg.counts() == both.files.store.counts()
    assert both.pg.restricted == both.files.restricted


def test_reads_inside_reading_share_one_snapshot(both: Both) -> None:
    with both.pg.reading():
        con = both.pg._local.con
        assert con.execute("SHOW transaction_isolation").fetchone()[0] == "repeatable read"
        stored, _ = both.pg.fetch(
            [v for v, _ in both.pg.dense_search(both.embedder.encode_query("rates"), 3)]
        )
        assert len(stored) == 3
    assert getattr(both.pg._local, "con", None) is None


def test_reusable_vectors_are_found_by_embed_hash(both: Both) -> None:
    some = list(both.files.store.iter_passages())[:5]
    found = both.pg.reusable_vectors([sp.embed_hash for sp in some] + ["nope"])
    assert set(found) == {sp.embed_hash for sp in some}
    for sp in some:
        vec, _ = found[sp.embed_hash]
        assert np.allclose(vec, both.files.vectors.get([sp.passage.vid])[0])


def test_words_in_half_the_passages_select_no_candidates_unless_alone() -> None:
    df = {"harbor": 60, "crane": 3, "dock": 10}
    assert matching_lexemes(df, 100) == ["crane", "dock"]
    assert matching_lexemes({"harbor": 60, "the": 90}, 100) == ["harbor", "the"]


def test_on_a_large_corpus_the_rarest_words_select_candidates_within_the_budget() -> None:
    df = {"a": 15_000, "b": 9_000, "c": 40}
    assert matching_lexemes(df, 1_000_000, budget=20_000) == ["c", "b"]
    assert matching_lexemes({"a": 50_000}, 1_000_000, budget=20_000) == ["a"]  # at least one


def test_common_words_still_rank_passages_as_fts5_does(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    corpus = tmp_path_factory.mktemp("common") / "corpus"
    corpus.mkdir()
    for i in range(6):
        extra = " The crane fell on the quay." if i == 2 else ""
        body = f"The harbor reopened today after storm number {i}.{extra}\n\nThe harbor master thanked crews."
        (corpus / f"2024-01-0{i + 1}-harbor-{i}.md").write_text(f"# Harbor news {i}\n\n{body}\n")
    with indexed_by_both(pg_server, corpus, tmp_path_factory.mktemp("files-common") / "index") as indexed:
        for question in ("harbor crane", "harbor", "harbor crews"):
            terms = query_terms(question)
            _same_ranking(
                indexed.files.store.lexical_search(terms, 20, WEIGHTS),
                indexed.pg.lexical_search(terms, 20, WEIGHTS),
                1e-6,
            )

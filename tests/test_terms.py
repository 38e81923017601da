"""Lexical search from precomputed term weights: FTS5's BM25 scores, kept right across versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index import terms
from index.search import IndexVersion, PassageFilter
from index.service import BriefingService
from index.store import query_terms
from index.terms import FIELD_WEIGHTS, TermIndex

CARROW = "2024-05-30-carrow-wildfire-season-outlook.md"
QUESTIONS = [
    "What did Iran supply to Russia?",
    "What did the Bank of Valmora do with its policy rate?",
    "wildfire season outlook for Carrow Province",
    "ransomware attack on the hospital",
    "harbor crane collapse injured workers",
]


def _live(service: BriefingService) -> IndexVersion:
    version = service.status().version or ""
    return IndexVersion(service.layout.version_dir(version))


def _fts5(index: IndexVersion, question: str, k: int = 60) -> list[tuple[int, float]]:
    return index.store.lexical_search(query_terms(question), k, FIELD_WEIGHTS)


def _terms(index: IndexVersion, question: str, k: int = 60) -> list[tuple[int, float]]:
    assert index.terms is not None
    return index.terms.search(query_terms(question), k)


def _edit(corpus: Path, old: str, new: str) -> None:
    path = corpus / CARROW
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize("question", QUESTIONS)
def test_term_weights_score_every_passage_as_fts5_does(service: BriefingService, question: str) -> None:
    index = _live(service)
    try:
        expected = dict(_fts5(index, question, 10_000))
        found = dict(_terms(index, question, 10_000))
    finally:
        index.close()
    assert expected
    assert found.keys() == expected.keys()
    for vid, score in expected.items():
        assert found[vid] == pytest.approx(score, rel=1e-5)


def test_two_words_of_one_stem_count_twice_as_in_fts5(service: BriefingService) -> None:
    index = _live(service)
    try:
        once = dict(_terms(index, "rate"))
        twice = dict(_terms(index, "rate rates"))
        fts5_twice = dict(_fts5(index, "rate rates"))
    finally:
        index.close()
    vid = next(iter(once))
    assert twice[vid] == pytest.approx(2 * once[vid], rel=1e-5)
    assert twice[vid] == pytest.approx(fts5_twice[vid], rel=1e-5)


def test_document_frequencies_are_fts5_counts(service: BriefingService) -> None:
    words = query_terms("Iran supplied drones wildfire season policy rate ransomware unheardofword")
    index = _live(service)
    try:
        assert index.terms is not None
        assert index.terms.frequencies(words) == index.store.document_frequencies(words)
    finally:
        index.close()


def test_a_filter_keeps_only_its_passages(service: BriefingService) -> None:
    index = _live(service)
    try:
        where = PassageFilter(briefing_ids=("2024-12-12-bank-of-valmora-rate-decision",))
        allowed = set(index.allowed(where))
        found = index.lexical_search(query_terms("policy rate wildfire"), 60, FIELD_WEIGHTS, where)
        unfiltered = _terms(index, "policy rate wildfire", 10_000)
    finally:
        index.close()
    assert found
    assert {v for v, _ in found} <= allowed
    assert [v for v, _ in found] == [v for v, _ in unfiltered if v in allowed][: len(found)]


def _agree(index: IndexVersion, question: str) -> None:
    """Same passages as FTS5; scores within a little (a delta keeps its base's average length)."""
    expected = dict(_fts5(index, question, 10_000))
    found = dict(_terms(index, question, 10_000))
    assert found.keys() == expected.keys()
    for vid, score in expected.items():
        assert found[vid] == pytest.approx(score, rel=0.02)


def test_a_changed_briefing_is_searched_from_the_delta_over_a_linked_base(
    service: BriefingService, corpus: Path
) -> None:
    before = service.status().version or ""
    _edit(corpus, "above-normal wildfire season", "above-normal zanzibarite season")
    service.reindex()
    after = service.status().version or ""
    index = _live(service)
    try:
        assert _terms(index, "zanzibarite")
        for question in ["zanzibarite", "wildfire season", *QUESTIONS]:
            _agree(index, question)
        assert index.terms is not None
        words = query_terms("zanzibarite wildfire season Carrow")
        assert index.terms.frequencies(words) == index.store.document_frequencies(words)
    finally:
        index.close()
    rows = f"{terms.TERMS_DIR}/base.rows.npy"
    old, new = service.layout.version_dir(before) / rows, service.layout.version_dir(after) / rows
    assert old.stat().st_ino == new.stat().st_ino


def test_a_retitled_briefing_is_found_by_its_new_title_only(service: BriefingService, corpus: Path) -> None:
    # The passages keep their ids (same briefing, same text): only their title words change.
    _edit(corpus, 'title: "Carrow Province braces', 'title: "Quillomar Province braces')
    service.reindex()
    index = _live(service)
    try:
        assert _terms(index, "Quillomar")
        _agree(index, "Quillomar")
        _agree(index, "Carrow braces")
    finally:
        index.close()


def test_removed_briefings_leave_no_lexical_hits(service: BriefingService, corpus: Path) -> None:
    (corpus / CARROW).unlink()
    service.reindex()
    index = _live(service)
    try:
        assert index.terms is not None
        assert index.terms.passages == index.meta.passages
        _agree(index, "Carrow wildfire season")
    finally:
        index.close()


def test_a_version_written_without_term_weights_searches_fts5(service: BriefingService) -> None:
    directory = service.layout.version_dir(service.status().version or "")
    for name in [*terms.base_files(), terms.DELTA_FILE]:
        (directory / name).unlink()
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"] = {k: v for k, v in manifest["files"].items() if not k.startswith(terms.TERMS_DIR)}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (directory / ".verified.json").unlink(missing_ok=True)

    index = IndexVersion(directory)
    try:
        assert index.terms is None
        found = index.lexical_search(query_terms("policy rate"), 5, FIELD_WEIGHTS)
        assert found == _fts5(index, "policy rate", 5)
    finally:
        index.close()


def test_term_weights_that_do_not_match_their_terms_are_refused(service: BriefingService) -> None:
    directory = service.layout.version_dir(service.status().version or "")
    assert TermIndex.open(directory) is not None
    meta = json.loads((directory / terms.BASE_META).read_text(encoding="utf-8"))
    meta["terms"] = meta["terms"][:-1]
    (directory / terms.BASE_META).write_text(json.dumps(meta), encoding="utf-8")

    with pytest.raises(RuntimeError, match="unreadable term weights"):
        TermIndex.open(directory)

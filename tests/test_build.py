"""Reindexing: incremental, removals, bad files, versions, rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import reindex
from index.manifest import ManifestError
from index.service import BriefingService
from index.versions import IndexLayout, ReindexBusyError
from tests.conftest import make_service
from tests.fakes import FakeEmbedder


def test_first_reindex_indexes_every_sample_briefing(service: BriefingService) -> None:
    report = service.last_report()
    assert report is not None
    assert report.briefings_total == 12
    assert len(report.briefings_added) == 12
    assert report.skipped == []
    assert report.passages_total == service.status().passages > 100


def test_an_unchanged_corpus_writes_no_new_version(service: BriefingService) -> None:
    before = service.status().version
    report = service.reindex()
    assert report.changed is False
    assert service.status().version == before


def test_a_changed_briefing_is_reembedded_alone(corpus: Path, tmp_path: Path) -> None:
    emb = FakeEmbedder()
    svc = make_service(corpus, tmp_path / "ix", emb)
    svc.reindex()
    first = emb.encoded
    path = corpus / "2024-09-12-saltmere-harbor-crane-collapse.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("Two dock workers", "Three dock workers"))
    report = svc.reindex()
    assert report.briefings_changed == ["2024-09-12-saltmere-harbor-crane-collapse"]
    assert report.briefings_added == [] and report.briefings_removed == []
    assert report.passages_embedded == 1
    assert emb.encoded - first == 2  # the passage, and its one sentence on its own


def test_a_removed_briefing_is_never_quoted_again(service: BriefingService, corpus: Path) -> None:
    question = "How many North Korean troops are in Russia?"
    assert service.ask(question).quotes[0].briefing_id == "000_457032d09a867f08"
    (corpus / "000_457032d09a867f08.txt").unlink()
    report = service.reindex()
    assert report.briefings_removed == ["000_457032d09a867f08"]
    answer = service.ask(question, k=10)
    assert all(q.briefing_id != "000_457032d09a867f08" for q in answer.quotes)


def test_reindexing_twice_never_duplicates_passages(service: BriefingService, corpus: Path) -> None:
    total = service.status().passages
    service.reindex(full=True)
    service.reindex(full=True)
    st = service.status()
    assert st.passages == total
    vectors = service.searcher().index.vectors
    assert len(vectors) == total


def test_bad_files_are_reported_and_skipped_while_the_rest_is_indexed(corpus: Path, tmp_path: Path) -> None:
    (corpus / "binary.md").write_bytes(b"\x00\x01\x02PK")
    (corpus / "latin1.txt").write_bytes("Caf\xe9 news".encode("latin-1"))
    (corpus / "broken.md").write_text("---\ntitle: [oops\n---\nBody.\n")
    (corpus / "empty.txt").write_text("")
    with (corpus / "huge.txt").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    svc = make_service(corpus, tmp_path / "ix", FakeEmbedder())
    report = svc.reindex()
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {"binary.md", "latin1.txt", "broken.md", "empty.txt", "huge.txt"}
    assert "binary" in reasons["binary.md"] and "UTF-8" in reasons["latin1.txt"]
    assert "too large" in reasons["huge.txt"]
    assert report.briefings_total == 12


def test_a_briefing_that_turns_unreadable_keeps_its_last_good_version(
    service: BriefingService, corpus: Path
) -> None:
    (corpus / "000_457032d09a867f08.txt").write_bytes(b"\xff\xfe broken now")
    report = service.reindex()
    assert [s.path for s in report.skipped] == ["000_457032d09a867f08.txt"]
    assert "000_457032d09a867f08" not in report.briefings_removed
    assert service.ask("What did Iran supply to Russia?").quotes[0].briefing_id == "000_457032d09a867f08"


def test_a_new_model_forces_a_full_rebuild(corpus: Path, tmp_path: Path) -> None:
    make_service(corpus, tmp_path / "ix", FakeEmbedder()).reindex()
    svc = make_service(corpus, tmp_path / "ix", FakeEmbedder(name="another-model"))
    report = svc.reindex()
    assert report.full_rebuild and "model changed" in (report.rebuild_reason or "")


def test_rollback_brings_the_previous_version_back(service: BriefingService, corpus: Path) -> None:
    first = service.status().version
    (corpus / "2024-05-30-carrow-wildfire-season-outlook.md").unlink()
    second = service.reindex().version
    assert second != first
    report = service.rollback()
    assert (report.previous_version, report.version) == (second, first)
    assert service.status().version == first
    assert service.status().briefings == 12


def test_rollback_without_a_previous_version_is_refused(service: BriefingService) -> None:
    with pytest.raises(ManifestError):
        service.rollback()


def test_a_second_reindex_is_refused_while_one_holds_the_lock(corpus: Path, tmp_path: Path) -> None:
    layout = IndexLayout(tmp_path / "ix")
    with layout.reindex_lock("someone else"), pytest.raises(ReindexBusyError) as err:
        reindex(corpus, layout, FakeEmbedder())
    assert "someone else" in str(err.value)


def test_old_versions_beyond_the_limit_are_cleaned_up(corpus: Path, tmp_path: Path) -> None:
    svc = make_service(corpus, tmp_path / "ix", FakeEmbedder(), keep_versions=2)
    svc.reindex()
    for _ in range(3):
        svc.reindex(full=True)
    assert len(svc.status().versions) == 2


def test_a_corrupt_live_version_falls_back_to_the_previous_one(
    service: BriefingService, corpus: Path
) -> None:
    first = service.status().version
    (corpus / "2024-05-30-carrow-wildfire-season-outlook.md").unlink()
    second = service.reindex().version
    assert second is not None
    vectors = service.layout.version_dir(second) / "vectors.delta.npz"  # the version's own vectors
    vectors.write_bytes(vectors.read_bytes()[:-10] + b"corrupted!")
    fresh = BriefingService(service.config, service.embedder, service.calibration)
    st = fresh.status()
    assert st.version == first
    assert any("checksum" in p for p in st.problems)


def test_a_sentence_repeated_across_briefings_is_encoded_once(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for day in (1, 2):
        (corpus / f"2024-05-0{day}-pier-{day}.md").write_text(
            f"# Pier report {day}\n\nThe pier reopened on day {day} after repairs. Thank you all.\n",
            encoding="utf-8",
        )
    emb = FakeEmbedder()
    svc = make_service(corpus, tmp_path / "ix", emb)
    svc.reindex()
    # two passages, two distinct first sentences, one shared "Thank you all."
    assert emb.encoded == 2 + 3

"""Index versions share their large files (passage vector base, sentence-vector packs) through
hard links: a reindex writes and hashes only what is new, and every version stays complete."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from index import build, manifest, packs, terms, version_vectors
from index.build import STORE_FILE
from index.manifest import MANIFEST_NAME, read_manifest, verify
from index.search import IndexVersion
from index.service import BriefingService
from index.store import pack_vectors
from index.version_vectors import BASE_FILE, DELTA_FILE, LEGACY_FILE, load_version_vectors
from tests.conftest import USER_BRIEFING, make_service
from tests.fakes import FakeEmbedder

CARROW = "2024-05-30-carrow-wildfire-season-outlook.md"
QUESTION = "What did Iran supply to Russia?"


def _live(service: BriefingService) -> Path:
    return service.layout.version_dir(service.status().version or "")


def _change_one(corpus: Path, words: str = "One more sentence about ferries.") -> None:
    path = corpus / CARROW
    path.write_text(path.read_text(encoding="utf-8") + f"\n{words}\n", encoding="utf-8")


def _shared(a: Path, b: Path) -> set[str]:
    """Names of the files two versions share (the same inode)."""
    names = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    return {n for n in names if (b / n).exists() and (a / n).stat().st_ino == (b / n).stat().st_ino}


def _sentence_vectors(version_dir: Path) -> dict[str, np.ndarray]:
    index = IndexVersion(version_dir)
    try:
        return {
            sp.passage.passage_id: sp.sentence_vectors
            for sp in index.store.iter_passages()
            if sp.sentence_vectors is not None
        }
    finally:
        index.close()


def test_one_changed_briefing_links_the_vector_and_term_bases_and_older_packs_instead_of_writing_them(
    service: BriefingService, corpus: Path
) -> None:
    first = _live(service)
    _change_one(corpus)

    service.reindex()
    second = _live(service)

    base_pack = [p.name for p in (first / "packs").iterdir()]
    assert _shared(first, second) == {BASE_FILE, *terms.base_files(), *(f"packs/{n}" for n in base_pack)}
    assert not (second / LEGACY_FILE).exists()


def test_linked_files_keep_their_checksums_and_only_new_files_are_hashed(
    service: BriefingService, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real = manifest.file_sha256
    monkeypatch.setattr(manifest, "file_sha256", lambda path: hashed.append(path.name) or real(path))
    _change_one(corpus)

    service.reindex()

    new_pack = _live(service).name + packs.PACK_SUFFIX
    assert sorted(hashed) == sorted(
        [STORE_FILE, DELTA_FILE, Path(terms.DELTA_FILE).name, "report.json", new_pack]
    )


def test_a_version_sharing_files_with_a_deleted_one_stays_complete_and_answers(
    corpus: Path, tmp_path: Path
) -> None:
    svc = make_service(corpus, tmp_path / "ix", FakeEmbedder(), keep_versions=1)
    svc.reindex()
    first = _live(svc)
    _change_one(corpus)

    svc.reindex()

    live = _live(svc)
    assert not first.exists()
    verify(live, read_manifest(live))  # every checksum, linked files included
    assert svc.ask(QUESTION).quotes


def test_the_delta_of_vectors_becomes_a_new_base_when_it_outgrows_its_share(
    service: BriefingService, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _live(service)
    monkeypatch.setattr(version_vectors, "DELTA_MIN", 0)
    monkeypatch.setattr(version_vectors, "DELTA_SHARE", 0.0)
    _change_one(corpus)

    service.reindex()
    second = _live(service)

    assert BASE_FILE not in _shared(first, second)
    loaded = load_version_vectors(second)
    assert len(loaded) == read_manifest(second).passages
    assert np.load(second / DELTA_FILE)["ids"].size == 0


def test_a_version_reads_its_vectors_as_base_minus_removed_plus_added(
    service: BriefingService, corpus: Path
) -> None:
    (corpus / CARROW).unlink()
    other = corpus / USER_BRIEFING.name
    other.write_text(other.read_text(encoding="utf-8") + "\nA new closing paragraph.\n", encoding="utf-8")
    service.reindex()
    live = _live(service)
    index = IndexVersion(live)

    ids = {sp.passage.vid for sp in index.store.iter_passages()}
    stored, _ = index.vectors.all()

    assert set(stored.tolist()) == ids
    index.close()


def test_many_small_packs_are_merged_and_sentence_vectors_are_unchanged(
    service: BriefingService, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "MAX_PACKS", 2)
    for i in range(3):
        _change_one(corpus, f"Another sentence number {i} about ferries.")
        service.reindex()
    before = _sentence_vectors(_live(service))
    _change_one(corpus, "A last sentence about ferries.")

    service.reindex()

    live = _live(service)
    assert len(list((live / "packs").iterdir())) <= 2
    after = _sentence_vectors(live)
    same = [pid for pid in before if pid in after]
    assert len(same) > 50
    assert all(np.array_equal(before[pid], after[pid]) for pid in same)


def test_packs_that_are_mostly_garbage_are_rewritten_into_one(
    service: BriefingService, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _live(service)
    monkeypatch.setattr(build, "MAX_GARBAGE", 0.0)
    _change_one(corpus)

    service.reindex()

    live = _live(service)
    assert [p.name for p in (live / "packs").iterdir()] == [f"{live.name}-merged{packs.PACK_SUFFIX}"]
    assert not _shared(first, live) & {f"packs/{p.name}" for p in (first / "packs").iterdir()}
    assert service.ask(QUESTION).quotes


def test_a_damaged_shared_file_makes_the_next_reindex_rebuild_from_scratch(
    service: BriefingService, corpus: Path
) -> None:
    _change_one(corpus)
    service.reindex()
    base = _live(service) / BASE_FILE
    base.write_bytes(base.read_bytes()[:-10] + b"corrupted!")  # in place: both versions share it

    report = service.reindex()

    assert report.full_rebuild and "unusable" in " ".join(report.warnings)
    assert service.ask(QUESTION).quotes


def _to_format_1(version_dir: Path) -> None:
    """Rewrite a version as index format 1 wrote it: one vector file, sentence vectors in rows."""
    index = IndexVersion(version_dir)
    all_vectors = load_version_vectors(version_dir)
    rows = [(pack_vectors(sp.sentence_vectors), sp.passage.vid) for sp in index.store.iter_passages()]
    index.close()
    con = sqlite3.connect(version_dir / STORE_FILE)
    con.executemany(
        "UPDATE passages SET sent_vecs=?, sent_pack=NULL, sent_row=NULL, sent_rows=NULL WHERE vid=?", rows
    )
    con.commit()
    con.close()
    all_vectors.save(version_dir / LEGACY_FILE)
    for name in (BASE_FILE, DELTA_FILE):
        (version_dir / name).unlink()
    for path in (version_dir / "packs").iterdir():
        path.unlink()
    (version_dir / "packs").rmdir()
    (version_dir / ".verified.json").unlink()
    data = json.loads((version_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    data["format"], data["files"] = 1, {}
    m = manifest.Manifest.from_json(data)
    manifest.seal(version_dir, m, [LEGACY_FILE, STORE_FILE, "report.json"])


def test_an_index_of_format_1_is_served_and_upgraded_by_the_next_reindex_without_re_embedding(
    service: BriefingService, corpus: Path, fake_embedder: FakeEmbedder
) -> None:
    old = _live(service)
    _to_format_1(old)
    fresh = make_service(corpus, service.config.index_dir, fake_embedder)
    assert fresh.ask(QUESTION).quotes
    before = _sentence_vectors(old)
    _change_one(corpus)

    report = fresh.reindex()

    live = _live(fresh)
    assert report.passages_embedded <= 3 and not report.full_rebuild
    assert read_manifest(live).format == manifest.FORMAT_VERSION
    assert (live / BASE_FILE).exists() and not (live / LEGACY_FILE).exists()
    con = sqlite3.connect(live / STORE_FILE)
    assert con.execute("SELECT COUNT(*) FROM passages WHERE sent_vecs IS NOT NULL").fetchone()[0] == 0
    after = _sentence_vectors(live)
    assert all(np.array_equal(before[pid], after[pid]) for pid in before if pid in after)

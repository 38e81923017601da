"""The vector store: exact while small, IVF beyond a size, filters and updates at every size."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from index.vectors import FaissVectorStore
from index.version_vectors import (
    BASE_FILE,
    DELTA_FILE,
    MappedVersionVectors,
    VersionVectors,
    load_version_vectors,
)
from tests.conftest import make_service
from tests.fakes import FakeEmbedder

DIM = 32


def _vectors(n: int, seed: int = 0) -> tuple[list[int], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, DIM))
    vecs = centres[rng.integers(0, 20, n)] + 0.3 * rng.standard_normal((n, DIM))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    ids = [int(i) * 1_000_003 + 17 for i in range(n)]
    return ids, vecs


def _store(n: int, exact_limit: int) -> tuple[FaissVectorStore, list[int], np.ndarray]:
    ids, vecs = _vectors(n)
    store = FaissVectorStore(DIM)
    store.add(ids, vecs)
    return store.sized(exact_limit), ids, vecs


def test_a_small_store_stays_exact() -> None:
    store, _, _ = _store(200, exact_limit=1000)
    assert not store.approximate


def test_a_store_beyond_the_limit_becomes_approximate_and_keeps_every_vector() -> None:
    store, ids, vecs = _store(2000, exact_limit=1000)
    assert store.approximate and len(store) == 2000
    assert np.allclose(store.get(ids[:50]), vecs[:50])
    assert sorted(store.all()[0].tolist()) == sorted(ids)


def test_an_approximate_store_finds_a_stored_vector_first() -> None:
    store, ids, vecs = _store(2000, exact_limit=1000)
    hits = [store.search(vecs[i], 5)[0][0] == ids[i] for i in range(0, 2000, 40)]
    assert sum(hits) / len(hits) >= 0.95


def test_a_small_filter_on_an_approximate_store_is_searched_exactly() -> None:
    store, ids, vecs = _store(2000, exact_limit=1000)
    allowed = ids[100:140]
    found = store.search(vecs[5], 10, allowed)
    scores = vecs[100:140] @ vecs[5]
    expected = [ids[100 + i] for i in np.argsort(-scores)[:10]]
    assert [i for i, _ in found] == expected


def test_a_wide_filter_on_an_approximate_store_returns_only_allowed_ids() -> None:
    store, ids, vecs = _store(8000, exact_limit=1000)
    allowed = set(ids[::2])
    found = store.search(vecs[3], 30, sorted(allowed))
    assert len(found) == 30 and all(i in allowed for i, _ in found)


def test_wide_filters_asked_in_turn_each_return_only_their_own_ids() -> None:
    store, ids, vecs = _store(8000, exact_limit=1000)
    even, odd = ids[::2], ids[1::2]
    for allowed in (even, odd, even, list(odd)):
        found = store.search(vecs[3], 30, allowed)
        assert len(found) == 30 and set(i for i, _ in found) <= set(allowed)


def test_removed_vectors_are_never_found_in_an_approximate_store() -> None:
    store, ids, vecs = _store(2000, exact_limit=1000)
    assert store.remove(ids[:10]) == 10
    assert all(store.search(vecs[i], 5)[0][0] not in ids[:10] for i in range(10))
    with pytest.raises(KeyError):
        store.get([ids[0]])


def test_an_approximate_store_survives_save_and_load(tmp_path: Path) -> None:
    store, _ids, vecs = _store(2000, exact_limit=1000)
    store.save(tmp_path / "v.faiss")
    loaded = FaissVectorStore.load(tmp_path / "v.faiss")
    assert loaded.approximate
    assert loaded.search(vecs[7], 3) == store.search(vecs[7], 3)


def test_an_approximate_index_answers_with_filters_and_updates(corpus: Path, tmp_path: Path) -> None:
    svc = make_service(corpus, tmp_path / "index", FakeEmbedder(), exact_limit=20)
    svc.reindex()
    assert svc.searcher().index.vectors.approximate
    dated = svc.ask("Kestrelbay transit strike pay offer guild", since=date(2024, 9, 1), k=5)
    assert dated.quotes and all(
        q.attribution.date and q.attribution.date >= date(2024, 9, 1) for q in dated.quotes
    )
    one = svc.ask("policy rate", briefing_id="2024-12-12-bank-of-valmora-rate-decision")
    assert one.quotes and {q.briefing_id for q in one.quotes} == {"2024-12-12-bank-of-valmora-rate-decision"}
    (corpus / "2024-12-12-bank-of-valmora-rate-decision.md").unlink()
    report = svc.reindex()
    assert report.passages_removed > 0 and svc.searcher().index.vectors.approximate
    after = svc.ask("What did the Bank of Valmora do with its policy rate?", k=5)
    assert all(q.briefing_id != "2024-12-12-bank-of-valmora-rate-decision" for q in after.quotes)


def _saved_version(directory: Path, n: int) -> tuple[list[int], np.ndarray]:
    """A version folder holding ``n`` vectors as a base with an empty delta."""
    ids, vecs = _vectors(n)
    building = VersionVectors(DIM)
    building.add(ids, vecs)
    directory.mkdir()
    building.save(directory)
    return ids, vecs


def test_a_vector_replaced_in_a_later_version_is_read_from_its_delta(tmp_path: Path) -> None:
    ids, vecs = _saved_version(tmp_path / "v1", 50)
    new = np.roll(vecs[3], 1)[None, :]
    building = VersionVectors(DIM, tmp_path / "v1")
    building.remove([ids[3]])
    building.add([ids[3]], new)
    (tmp_path / "v2").mkdir()

    names, new_base = building.save(tmp_path / "v2")
    loaded = load_version_vectors(tmp_path / "v2")

    assert (
        not new_base
        and (tmp_path / "v2" / names[0]).stat().st_ino == (tmp_path / "v1" / names[0]).stat().st_ino
    )
    assert len(loaded) == 50
    assert np.allclose(loaded.get([ids[3]]), new) and np.allclose(loaded.get([ids[4]]), vecs[4:5])
    assert np.allclose(load_version_vectors(tmp_path / "v1").get([ids[3]]), vecs[3:4])


def test_a_build_reads_vectors_of_its_base_without_loading_the_base_into_memory(tmp_path: Path) -> None:
    ids, vecs = _saved_version(tmp_path / "v1", 50)

    building = VersionVectors(DIM, tmp_path / "v1")

    assert np.allclose(building.get([ids[7], ids[1]]), vecs[[7, 1]])
    with pytest.raises(KeyError):
        building.get([12345])


def test_a_removed_vector_is_gone_from_the_next_version(tmp_path: Path) -> None:
    ids, _ = _saved_version(tmp_path / "v1", 50)
    building = VersionVectors(DIM, tmp_path / "v1")

    assert building.remove([ids[0], ids[0], 999]) == 1
    (tmp_path / "v2").mkdir()
    building.save(tmp_path / "v2")

    loaded = load_version_vectors(tmp_path / "v2")
    assert len(loaded) == 49 and ids[0] not in set(loaded.all()[0].tolist())


def test_a_delta_that_crosses_the_exact_limit_makes_a_new_approximate_base(tmp_path: Path) -> None:
    _saved_version(tmp_path / "v1", 900)
    building = VersionVectors(DIM, tmp_path / "v1")
    more_ids, more = _vectors(1200, seed=1)
    building.add([i + 7 for i in more_ids], more)
    (tmp_path / "v2").mkdir()

    _, new_base = building.save(tmp_path / "v2", exact_limit=1000)

    assert new_base and load_version_vectors(tmp_path / "v2").approximate


def _approximate_version_with_delta(tmp_path: Path) -> tuple[Path, list[int], np.ndarray]:
    """v2: an IVF base shared with v1, 30 vectors removed, 40 added (one replaced)."""
    ids, vecs = _vectors(2000)
    building = VersionVectors(DIM)
    building.add(ids, vecs)
    (tmp_path / "v1").mkdir()
    building.save(tmp_path / "v1", exact_limit=500)
    building = VersionVectors(DIM, tmp_path / "v1")
    building.remove(ids[:30])
    more_ids, more = _vectors(40, seed=3)
    added = [ids[0], *(i + 5 for i in more_ids[1:])]
    building.add(added, more)
    (tmp_path / "v2").mkdir()
    _, new_base = building.save(tmp_path / "v2", exact_limit=500)
    assert not new_base
    return tmp_path / "v2", added, more


def _whole(directory: Path) -> FaissVectorStore:
    """The same version read the plain way: the base loaded whole, its delta applied."""
    store = FaissVectorStore.load(directory / BASE_FILE)
    with np.load(directory / DELTA_FILE) as delta:
        store.remove(delta["removed"].tolist())
        store.add(delta["ids"].tolist(), delta["vectors"])
    return store


def _same(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> bool:
    return [i for i, _ in a] == [i for i, _ in b] and np.allclose([s for _, s in a], [s for _, s in b])


def test_an_approximate_version_is_searched_memory_mapped_with_the_same_results(tmp_path: Path) -> None:
    directory, added, more = _approximate_version_with_delta(tmp_path)
    mapped, whole = load_version_vectors(directory), _whole(directory)
    ids, _ = whole.all()
    rng = np.random.default_rng(5)

    assert isinstance(mapped, MappedVersionVectors) and len(mapped) == len(whole) == 2010
    for query in [*more[:5], *whole.get(ids[:5].tolist())]:
        assert _same(mapped.search(query, 25), whole.search(query, 25))
        few = [*rng.choice(ids, 200, replace=False).tolist(), added[0]]
        assert _same(mapped.search(query, 10, few), whole.search(query, 10, few))
        many = rng.choice(ids, 1500, replace=False).tolist()
        assert _same(mapped.search(query, 10, many), whole.search(query, 10, many))


def test_a_memory_mapped_version_never_finds_removed_vectors_and_reads_replaced_ones_from_its_delta(
    tmp_path: Path,
) -> None:
    directory, added, more = _approximate_version_with_delta(tmp_path)
    mapped = load_version_vectors(directory)
    removed = _vectors(2000)[0][1:30]

    assert np.allclose(mapped.get([added[0]]), more[:1])
    with pytest.raises(KeyError):
        mapped.get([removed[0]])
    found = {i for q in more[:10] for i, _ in mapped.search(q, 100)}
    assert not found & set(removed)
    assert set(mapped.all()[0].tolist()) == set(_whole(directory).all()[0].tolist())


def test_searching_a_memory_mapped_version_leaves_its_shared_base_file_unchanged(tmp_path: Path) -> None:
    directory, _, more = _approximate_version_with_delta(tmp_path)
    before = (directory / BASE_FILE).read_bytes()
    mapped = load_version_vectors(directory)

    for q in more:
        mapped.search(q, 50)
    del mapped

    assert (directory / BASE_FILE).read_bytes() == before

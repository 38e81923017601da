"""Sentence-vector packs: rows written once, read by position, never a row outside the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.packs import PackReader, PackWriter

DIM = 8


def _rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def test_rows_written_to_a_pack_read_back_as_float16_values(tmp_path: Path) -> None:
    writer = PackWriter(tmp_path, "v1.f16", DIM)
    first = _rows(3)
    second = _rows(2, seed=1)
    writer.add(first)
    name, at = writer.add(second)
    writer.close()

    got = PackReader(tmp_path, DIM).rows(name, at, 2)

    assert at == 3
    assert np.array_equal(got, second.astype(np.float16).astype(np.float32))


def test_rows_beyond_the_end_of_a_pack_are_refused(tmp_path: Path) -> None:
    writer = PackWriter(tmp_path, "v1.f16", DIM)
    writer.add(_rows(3))
    writer.close()

    with pytest.raises(ValueError, match="not in pack"):
        PackReader(tmp_path, DIM).rows("v1.f16", 2, 2)


def test_a_name_that_is_not_a_pack_in_the_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a pack name"):
        PackReader(tmp_path, DIM).rows("../store.sqlite3", 0, 1)


def test_a_pack_nothing_was_written_to_is_removed_when_closed(tmp_path: Path) -> None:
    writer = PackWriter(tmp_path, "v1.f16", DIM)

    assert writer.close() is False
    assert not (tmp_path / "v1.f16").exists()


def test_an_opened_pack_stays_readable_after_its_file_is_deleted(tmp_path: Path) -> None:
    writer = PackWriter(tmp_path, "v1.f16", DIM)
    writer.add(_rows(4))
    writer.close()
    reader = PackReader(tmp_path, DIM)
    reader.open_all()

    (tmp_path / "v1.f16").unlink()

    assert reader.rows("v1.f16", 1, 2).shape == (2, DIM)

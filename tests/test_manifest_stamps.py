"""Checksums are verified once per file state, and any rewrite of a file is verified again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index import manifest
from index.manifest import ManifestError, read_manifest, verify
from index.service import BriefingService


def _live_dir(service: BriefingService) -> Path:
    return service.layout.version_dir(service.status().version or "")


def test_a_sealed_version_is_not_hashed_again(
    service: BriefingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = _live_dir(service)
    hashed: list[str] = []
    monkeypatch.setattr(manifest, "file_sha256", lambda path: hashed.append(str(path)) or "")
    verify(directory, read_manifest(directory))
    assert hashed == []


def test_a_rewritten_file_of_the_same_size_is_hashed_and_refused(service: BriefingService) -> None:
    directory = _live_dir(service)
    store = directory / "store.sqlite3"
    data = bytearray(store.read_bytes())
    data[-100] ^= 0xFF
    store.write_bytes(bytes(data))
    stat = store.stat()
    os.utime(store, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a later write, surely
    with pytest.raises(ManifestError, match="checksum"):
        verify(directory, read_manifest(directory))

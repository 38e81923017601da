"""The manifest beside each index version: what built it, what it holds, checksums of its files."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
STAMPS_NAME = ".verified.json"  # files whose checksums were verified, by size, mtime and inode
# 2: sentence vectors in packs and passage vectors as a base + delta, both shared between
# versions through hard links. Format 1 (all in each version's own files) is still read, and
# its next reindex writes format 2 without re-embedding.
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)


@dataclass
class Manifest:
    version: str
    created_at: str
    model: str
    dim: int
    chunker: str
    faiss_version: str
    briefings: int
    passages: int
    build_seconds: float
    parent: str | None = None
    format: int = FORMAT_VERSION
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# The types read_manifest expects of a manifest's fields.
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "version": str,
    "created_at": str,
    "model": str,
    "dim": int,
    "chunker": str,
    "faiss_version": str,
    "briefings": int,
    "passages": int,
    "build_seconds": (int, float),
    "parent": (str, type(None)),
    "files": dict,
}


class ManifestError(Exception):
    """An index version that is missing, incomplete or corrupt."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON beside ``path``, fsync it, then rename it into place."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def link_or_copy(source: Path, dest: Path) -> None:
    """``dest`` as a hard link to ``source`` (the same bytes, not written again), or a copy where
    the filesystem has no hard links."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def write_text_atomic(path: Path, text: str) -> None:
    """Write text beside ``path``, fsync it, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def seal(
    directory: Path, manifest: Manifest, file_names: list[str], *, linked_from: Path | None = None
) -> None:
    """Record checksums of ``file_names`` and write the manifest last: a version without a
    manifest is incomplete by definition.

    A file that is a hard link to the same name in ``linked_from`` (the base version), which that
    version verified as it is now (same size, modification time and inode), keeps its checksum:
    the bytes shared by versions are hashed and synced once."""
    verified = _read_stamps(linked_from) if linked_from is not None else {}
    for name in file_names:
        path = directory / name
        known = verified.get(name)
        if isinstance(known, list) and len(known) == 4 and known == _stamp(path, {"sha256": known[0]}):
            manifest.files[name] = {"sha256": known[0], "size": path.stat().st_size}
            continue
        fsync_file(path)
        manifest.files[name] = {"sha256": file_sha256(path), "size": path.stat().st_size}
    write_json_atomic(directory / MANIFEST_NAME, manifest.to_json())
    write_stamps(directory, manifest)
    fsync_dir(directory)


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(f"{directory.name}: no manifest (incomplete build)") from exc
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{directory.name}: unreadable manifest ({exc})") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{directory.name}: unreadable manifest (not a JSON object)")
    try:
        manifest = Manifest.from_json(data)
    except TypeError as exc:  # fields missing
        raise ManifestError(f"{directory.name}: unreadable manifest ({exc})") from exc
    if manifest.format not in READABLE_FORMATS:
        if isinstance(manifest.format, int) and manifest.format > FORMAT_VERSION:
            raise ManifestError(
                f"{directory.name}: built by a newer version of briefbot (index format {manifest.format}; "
                f"this one reads {FORMAT_VERSION}): upgrade briefbot, or point BRIEFBOT_INDEX_DIR at a new folder"
            )
        raise ManifestError(
            f"{directory.name}: built by an older version of briefbot (index format {manifest.format}; "
            f"this one reads {FORMAT_VERSION}): a reindex rebuilds it"
        )
    wrong = [name for name, kind in _FIELD_TYPES.items() if not isinstance(getattr(manifest, name), kind)]
    if "files" not in wrong and not all(isinstance(info, dict) for info in manifest.files.values()):
        wrong.append("files")
    if wrong:
        raise ManifestError(f"{directory.name}: unreadable manifest (bad {', '.join(wrong)})")
    return manifest


def verify(directory: Path, manifest: Manifest, *, checksums: bool = True) -> None:
    """Raise ``ManifestError`` if a file the manifest names is missing or differs.

    A file whose checksum was verified (or written by ``seal``) is not hashed again while its
    size, modification time and inode are unchanged: hashing a large index on every start would
    cost seconds, and any rewrite of a file changes its modification time."""
    stamps = _read_stamps(directory)
    hashed = False
    for name, info in manifest.files.items():
        path = directory / name
        if not path.exists():
            raise ManifestError(f"{directory.name}: {name} is missing")
        if path.stat().st_size != info.get("size"):
            raise ManifestError(f"{directory.name}: {name} has the wrong size (corrupt)")
        if not checksums or stamps.get(name) == _stamp(path, info):
            continue
        if file_sha256(path) != info.get("sha256"):
            raise ManifestError(f"{directory.name}: {name} checksum mismatch (corrupt)")
        hashed = True
    if hashed:
        write_stamps(directory, manifest)


def _stamp(path: Path, info: dict[str, Any]) -> list[Any]:
    st = path.stat()
    return [info.get("sha256"), st.st_size, st.st_mtime_ns, st.st_ino]


def write_stamps(directory: Path, manifest: Manifest) -> None:
    """Record that the files of ``directory`` match their checksums as they are now."""
    stamps = {name: _stamp(directory / name, info) for name, info in manifest.files.items()}
    with contextlib.suppress(OSError):  # a read-only index still verifies, only more slowly
        write_json_atomic(directory / STAMPS_NAME, stamps)


def _read_stamps(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / STAMPS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}

"""The natural-question set: questions written the way colleagues ask in chat, pointing into
documents that are not copied into the repository.

A set folder holds ``questions.jsonl`` (id, text, kind, split and, for answerable questions, the
document, paragraph and a short answer string) and ``sources.json`` (where the documents come
from). The corpus is assembled at run time from ``../shared`` (public eval sets and corpora) and
from folders of briefings in the repository; nothing of the articles is committed.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCES_FILE = "sources.json"
QUESTIONS_FILE = "questions.jsonl"
KINDS = ("answerable", "near_miss", "off_topic")


class NaturalSetError(ValueError):
    """The set cannot be assembled (missing shared folder, a gold paragraph that moved, ...)."""


@dataclass(frozen=True)
class NaturalQuestion:
    id: str
    text: str
    kind: str  # answerable | near_miss | off_topic
    split: str  # tune | heldout
    source: str | None = None
    doc: str | None = None
    paragraph: int | None = None
    answer: str | None = None
    gold: str | None = None  # the gold paragraph's text (answerable questions)


@dataclass
class NaturalSet:
    name: str
    # Documents in the eval ``corpus.jsonl`` shape, and briefing files copied verbatim (path -> text).
    rows: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    questions: list[NaturalQuestion] = field(default_factory=list)


def is_natural_set(directory: Path) -> bool:
    return (directory / SOURCES_FILE).is_file() and (directory / QUESTIONS_FILE).is_file()


def find_shared(start: Path) -> Path:
    """The ``shared`` folder beside the repository (``../shared``), found by walking up from ``start``."""
    for parent in [start.resolve(), *start.resolve().parents]:
        candidate = parent / "shared"
        if (candidate / "eval").is_dir() or (candidate / "corpora").is_dir():
            return candidate
    raise NaturalSetError(f"no shared folder (../shared) found above {start}; pass --shared DIR")


def load_natural(directory: Path, shared: Path | None = None) -> NaturalSet:
    """Assemble the documents named in ``sources.json`` and resolve every gold paragraph."""
    spec = json.loads((directory / SOURCES_FILE).read_text(encoding="utf-8"))
    shared_dir = shared
    out = NaturalSet(name=str(spec.get("name") or directory.name))
    paragraphs: dict[tuple[str, str], list[str]] = {}  # (source, doc) -> paragraphs
    for source in spec["sources"]:
        name = str(source["name"])
        if source.get("root") == "shared":
            shared_dir = shared_dir or find_shared(directory)
            path = shared_dir / source["path"]
        else:
            path = (directory / source["path"]).resolve()
        if not path.exists():
            raise NaturalSetError(f"source {name!r}: {path} does not exist")
        if source["kind"] == "jsonl":
            docs = [r for r in _read_jsonl(path) if _in_window(r, source)]
            expected = source.get("expect_documents")
            if expected is not None and len(docs) != int(expected):
                raise NaturalSetError(f"source {name!r}: {len(docs)} documents, expected {expected}")
            out.rows.extend(docs)
            for r in docs:
                paragraphs[(name, str(r["id"]))] = split_paragraphs(str(r["text"]), source["paragraphs"])
        elif source["kind"] == "folder":
            prefix = str(source.get("prefix", name))
            for file in sorted(path.rglob("*")):
                if file.suffix.lower() not in (".md", ".txt") or not file.is_file():
                    continue
                rel = file.relative_to(path).as_posix()
                text = file.read_text(encoding="utf-8")
                out.files[f"{prefix}/{rel}"] = text
                paragraphs[(name, rel)] = split_paragraphs(body_of(text), source["paragraphs"])
        else:
            raise NaturalSetError(f"source {name!r}: unknown kind {source['kind']!r}")
    for row in _read_jsonl(directory / QUESTIONS_FILE):
        out.questions.append(_question(row, paragraphs))
    return out


def _question(row: dict[str, Any], paragraphs: dict[tuple[str, str], list[str]]) -> NaturalQuestion:
    kind = str(row["kind"])
    if kind not in KINDS:
        raise NaturalSetError(f"{row['id']}: unknown kind {kind!r}")
    gold = None
    if kind == "answerable":
        key = (str(row["source"]), str(row["doc"]))
        if key not in paragraphs:
            raise NaturalSetError(f"{row['id']}: document {key[1]!r} not in source {key[0]!r}")
        paras = paragraphs[key]
        index = int(row["paragraph"])
        gold = paras[index] if 0 <= index < len(paras) else ""
        if str(row["answer"]) not in gold:
            raise NaturalSetError(f"{row['id']}: answer {row['answer']!r} is not in paragraph {index}")
    return NaturalQuestion(
        id=str(row["id"]),
        text=str(row["text"]),
        kind=kind,
        split=str(row.get("split", "tune")),
        source=row.get("source"),
        doc=row.get("doc"),
        paragraph=row.get("paragraph"),
        answer=row.get("answer"),
        gold=gold,
    )


def split_paragraphs(text: str, unit: str) -> list[str]:
    """Paragraphs as the set counts them: blank-line separated blocks, or non-empty lines."""
    if unit == "blank-line":
        return text.split("\n\n")
    if unit == "line":
        return [line for line in text.splitlines() if line.strip()]
    raise NaturalSetError(f"unknown paragraph unit {unit!r}")


def body_of(text: str) -> str:
    """A briefing's text without its YAML front matter."""
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            newline = text.find("\n", end + 1)
            return text[newline + 1 :] if newline != -1 else ""
    return text


def _in_window(row: dict[str, Any], source: dict[str, Any]) -> bool:
    published = str(row.get("published_at") or "")[:10]
    lo, hi = source.get("published_from"), source.get("published_to")
    return (lo is None or published >= lo) and (hi is None or published <= hi)


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)

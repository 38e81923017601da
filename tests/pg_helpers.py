"""Building PostgreSQL index versions for tests from a corpus folder, with the product's own
parser, chunker and embedding texts (the generic reindex drives the backend in phase 2)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from index.build import embed_hash, embed_text
from index.chunking import ChunkOptions, make_passages
from index.corpus import iter_corpus
from index.models import BriefingMeta, Passage, ReindexReport
from index.parsing import parse_briefing
from index.pg.backend import PgBackend
from index.pg.builder import PgVersionBuilder
from index.pg.database import Database
from index.versions import utc_now
from tests.fakes import FakeEmbedder

Parsed = list[tuple[BriefingMeta, list[Passage]]]


def parse_corpus(corpus: Path, embedder: FakeEmbedder) -> Parsed:
    opts = dataclasses.replace(ChunkOptions(), max_tokens=embedder.max_tokens)
    out: Parsed = []
    for path, rel in iter_corpus(corpus):
        doc = parse_briefing(rel, path.read_bytes())
        out.append(
            (doc.meta, make_passages(doc.meta.briefing_id, doc.text, doc.blocks, embedder.count_tokens, opts))
        )
    return out


def add(
    builder: PgVersionBuilder, embedder: FakeEmbedder, meta: BriefingMeta, passages: list[Passage]
) -> None:
    texts = [embed_text(meta, p) for p in passages]
    vectors = embedder.encode(texts) if texts else np.zeros((0, embedder.dim), np.float32)
    sentences = [
        embedder.encode([p.text[a:b] for a, b in p.sentences]) if p.sentences else None for p in passages
    ]
    hashes = [embed_hash(embedder.name, t) for t in texts]
    # The file backend's clock: both backends then give an undated briefing the same "added" day.
    builder.add_briefing(meta, passages, hashes, vectors, sentences, utc_now())


@contextmanager
def building(
    backend: PgBackend, embedder: FakeEmbedder, base: str | None = None
) -> Iterator[PgVersionBuilder]:
    """A builder under the reindex lock; sealed and published when the block ends normally."""
    with backend.writer("test") as writer:
        builder = writer.begin(base, model=embedder.name, dim=embedder.dim, chunker="test")
        try:
            yield builder
        except BaseException:
            builder.abort()
            raise
        builder.seal(ReindexReport(version=builder.version))
        builder.publish()


def build(backend: PgBackend, embedder: FakeEmbedder, parsed: Parsed, base: str | None = None) -> str:
    """A version holding ``parsed`` (on top of ``base``), made live; returns its id."""
    with building(backend, embedder, base) as builder:
        for meta, passages in parsed:
            add(builder, embedder, meta, passages)
    return builder.version


def open_db(url: str) -> Database:
    return Database(url, min_size=1, max_size=4)

"""Tables of the PostgreSQL backend and the migrations that create and upgrade them.

Everything lives in the ``briefbot`` schema. ``migrate`` runs at every start: it applies the
steps a database has not seen yet, in one transaction, under an advisory lock so that several
processes starting at once apply each step exactly once, and refuses a database whose schema
is newer than this code (an older bot must not write into a newer layout).

A version of the index is a set of briefing revisions (``version_members``); a revision and its
passages never change once written, so versions share the passages of briefings that did not
change, and readers of an old version are never disturbed by a build.
"""

from __future__ import annotations

from typing import Any

import psycopg

SCHEMA = "briefbot"
MIGRATE_LOCK = 0x62726966  # advisory lock class of briefbot ("brif"); key 0 = migrations

_V1 = """
CREATE TABLE corpora (
    corpus_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    live_version text,
    switches bigint NOT NULL DEFAULT 0,  -- bumped by every switch: a cheap change detector
    switched_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE versions (
    corpus_id integer NOT NULL REFERENCES corpora ON DELETE CASCADE,
    version text NOT NULL,
    state text NOT NULL CHECK (state IN ('building', 'sealed')),
    parent text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sealed_at timestamptz,
    model text NOT NULL,
    dim integer NOT NULL CHECK (dim > 0),
    chunker text NOT NULL,
    briefings integer NOT NULL DEFAULT 0,
    passages integer NOT NULL DEFAULT 0,
    tokens bigint NOT NULL DEFAULT 0,
    build_seconds double precision NOT NULL DEFAULT 0,
    builder jsonb NOT NULL DEFAULT '{}',
    report jsonb,
    PRIMARY KEY (corpus_id, version)
);
CREATE TABLE briefing_revs (
    rev_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    corpus_id integer NOT NULL REFERENCES corpora ON DELETE CASCADE,
    briefing_id text NOT NULL,
    path text NOT NULL,
    title text NOT NULL,
    date date,
    source text,
    url text,
    tags jsonb NOT NULL DEFAULT '[]',
    audience jsonb NOT NULL DEFAULT '["all"]',
    sha256 text NOT NULL,
    size bigint NOT NULL,
    warnings jsonb NOT NULL DEFAULT '[]',
    indexed_at text NOT NULL,
    passage_count integer NOT NULL,
    tokens bigint NOT NULL DEFAULT 0,
    created_by text NOT NULL
);
CREATE INDEX briefing_revs_by_corpus ON briefing_revs (corpus_id, briefing_id);
CREATE TABLE version_members (
    corpus_id integer NOT NULL,
    version text NOT NULL,
    briefing_id text NOT NULL,
    rev_id bigint NOT NULL REFERENCES briefing_revs,
    PRIMARY KEY (corpus_id, version, briefing_id),
    FOREIGN KEY (corpus_id, version) REFERENCES versions ON DELETE CASCADE
);
CREATE INDEX version_members_by_rev ON version_members (rev_id);
CREATE TABLE passages (
    rev_id bigint NOT NULL REFERENCES briefing_revs ON DELETE CASCADE,
    ordinal integer NOT NULL,
    corpus_id integer NOT NULL,
    vid bigint NOT NULL,
    passage_id text NOT NULL,
    briefing_id text NOT NULL,
    paragraph integer NOT NULL,
    paragraph_end integer NOT NULL,
    part text NOT NULL DEFAULT '',
    section jsonb NOT NULL DEFAULT '[]',
    start_offset integer NOT NULL,
    end_offset integer NOT NULL,
    text text NOT NULL,
    content_hash text NOT NULL,
    embed_hash text NOT NULL,
    kind text NOT NULL,
    sentences jsonb NOT NULL DEFAULT '[]',
    sentence_vectors bytea,  -- float16, as in the file backend
    PRIMARY KEY (rev_id, ordinal)
);
ALTER TABLE passages ALTER COLUMN sentence_vectors SET STORAGE EXTERNAL;  -- float16 does not compress
CREATE INDEX passages_by_vid ON passages (vid);
CREATE INDEX passages_by_passage_id ON passages (passage_id);
CREATE INDEX passages_by_embed_hash ON passages (corpus_id, embed_hash);
-- Each search reads a narrow table of its own: a scan of vectors reads no text, and no value
-- it needs sits out of line (a TOAST lookup per row made an exact scan five times slower).
CREATE TABLE passage_vectors (
    rev_id bigint NOT NULL REFERENCES briefing_revs ON DELETE CASCADE,
    ordinal integer NOT NULL,
    vid bigint NOT NULL,
    dim integer NOT NULL,
    embedding vector NOT NULL,
    PRIMARY KEY (rev_id, ordinal)
);
ALTER TABLE passage_vectors ALTER COLUMN embedding SET STORAGE PLAIN;
CREATE TABLE passage_terms (
    rev_id bigint NOT NULL REFERENCES briefing_revs ON DELETE CASCADE,
    ordinal integer NOT NULL,
    vid bigint NOT NULL,
    n_tokens integer NOT NULL,  -- words of title, section and body, for BM25's length
    tsv tsvector NOT NULL,  -- title A, section B, body D; English stemming
    PRIMARY KEY (rev_id, ordinal)
);
CREATE INDEX passage_terms_tsv ON passage_terms USING gin (tsv);
CREATE TABLE version_terms (  -- in how many of a version's passages each lexeme occurs
    corpus_id integer NOT NULL,
    version text NOT NULL,
    lexeme text NOT NULL,
    ndoc integer NOT NULL,
    PRIMARY KEY (corpus_id, version, lexeme),
    FOREIGN KEY (corpus_id, version) REFERENCES versions ON DELETE CASCADE
);
CREATE TABLE reports (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    corpus_id integer NOT NULL REFERENCES corpora ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    report jsonb NOT NULL
);
CREATE INDEX reports_by_corpus ON reports (corpus_id, id DESC);
CREATE TABLE reindex_holders (
    corpus_id integer PRIMARY KEY REFERENCES corpora ON DELETE CASCADE,
    backend_pid integer NOT NULL,
    holder jsonb NOT NULL
);
CREATE TABLE answer_records (
    key text PRIMARY KEY,
    corpus text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    record jsonb NOT NULL
);
CREATE INDEX answer_records_by_age ON answer_records (created_at);
"""

_V2 = """
CREATE TABLE answer_claims (  -- what was done once with an answer (posted to the channel, say)
    key text NOT NULL REFERENCES answer_records ON DELETE CASCADE,
    what text NOT NULL,
    PRIMARY KEY (key, what)
);
"""

# (schema version, SQL): append new steps, never edit an applied one.
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, _V2))
LATEST = MIGRATIONS[-1][0]


class SchemaError(Exception):
    """The database cannot be used: missing pgvector, no rights, or a newer schema."""


def vector_schema(con: psycopg.Connection[Any]) -> str | None:
    """The schema the pgvector extension lives in, or None when it is not installed."""
    row = con.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'vector'"
    ).fetchone()
    return str(row[0]) if row else None


def search_path(con: psycopg.Connection[Any]) -> str:
    """Our schema first, then pgvector's (wherever the database administrator put it)."""
    ext = vector_schema(con) or "public"
    return f'"{SCHEMA}", "{ext}"' if ext != SCHEMA else f'"{SCHEMA}"'


def schema_version(con: psycopg.Connection[Any]) -> int:
    """The schema version of the database (0 when briefbot never ran there)."""
    exists = con.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.schema_version",)).fetchone()
    if not exists or exists[0] is None:
        return 0
    row = con.execute(f'SELECT max(version) FROM "{SCHEMA}".schema_version').fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: psycopg.Connection[Any]) -> int:
    """Apply the steps this database has not seen; returns the schema version it is now at."""
    try:
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s, 0)", (MIGRATE_LOCK,))
            current = schema_version(con)
            if current > LATEST:
                raise SchemaError(
                    f"the database has briefbot schema version {current}, newer than this briefbot "
                    f"understands ({LATEST}): upgrade briefbot before using this database"
                )
            if current == LATEST:
                return current
            con.execute("CREATE EXTENSION IF NOT EXISTS vector")
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
            con.execute(
                f'CREATE TABLE IF NOT EXISTS "{SCHEMA}".schema_version '
                "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            con.execute(f"SET LOCAL search_path TO {search_path(con)}")
            for version, sql in MIGRATIONS:
                if version > current:
                    con.execute(sql.encode())
                    con.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
            return LATEST
    except psycopg.errors.InsufficientPrivilege as exc:
        raise SchemaError(
            f"no right to set up the briefbot schema ({exc.diag.message_primary}); a database "
            "administrator can run: CREATE EXTENSION vector; GRANT CREATE ON DATABASE ... TO ..."
        ) from exc
    except psycopg.errors.FeatureNotSupported as exc:
        raise SchemaError(f"the pgvector extension is not available on this server ({exc})") from exc
    except psycopg.errors.UndefinedFile as exc:
        raise SchemaError(f"the pgvector extension is not installed on this server ({exc})") from exc


def vector_index_exists(con: psycopg.Connection[Any], dim: int) -> bool:
    row = con.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.passage_vectors_hnsw_{int(dim)}",)).fetchone()
    return bool(row and row[0] is not None)


def ensure_vector_index(con: psycopg.Connection[Any], dim: int) -> str:
    """The HNSW (cosine) index for vectors of ``dim`` dimensions, created on first use.

    One partial index per dimension: pgvector indexes need a fixed dimension, and a model change
    builds its new version beside the old one (of another dimension) in the same table."""
    name = f"passage_vectors_hnsw_{int(dim)}"
    con.execute(
        f"CREATE INDEX IF NOT EXISTS {name} ON passage_vectors USING hnsw "
        f"((embedding::vector({int(dim)})) vector_cosine_ops) WHERE dim = {int(dim)}"
    )
    return name

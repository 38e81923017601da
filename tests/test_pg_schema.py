"""PostgreSQL backend, schema: created on first use, upgraded by itself, never downgraded."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from index.pg.database import Database
from index.pg.schema import LATEST, SCHEMA, SchemaError, migrate, schema_version
from tests.pgserver import PgServer


@pytest.fixture
def blank_url(pg_server: PgServer) -> Iterator[str]:
    """An empty database where briefbot never ran (no extension, no schema)."""
    name = pg_server.create_database(template="template0")
    yield pg_server.url(name)
    pg_server.drop_database(name)


def test_the_first_start_creates_the_schema_and_the_vector_extension(blank_url: str) -> None:
    db = Database(blank_url, min_size=1, max_size=1)
    try:
        assert db.schema_version == LATEST
        assert "pgvector" in db.engine
        with db.connection() as con:
            tables = {
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (SCHEMA,)
                )
            }
        assert {
            "corpora",
            "versions",
            "briefing_revs",
            "version_members",
            "passages",
            "reports",
            "reindex_holders",
            "answer_records",
            "schema_version",
        } <= tables
    finally:
        db.close()


def test_migrating_an_up_to_date_database_changes_nothing(blank_url: str) -> None:
    with psycopg.connect(blank_url, autocommit=True) as con:
        assert migrate(con) == LATEST
        assert migrate(con) == LATEST
        rows = con.execute(f"SELECT version FROM {SCHEMA}.schema_version").fetchall()
    assert rows == [(v,) for v in range(1, LATEST + 1)]


def test_processes_starting_together_apply_each_step_once(blank_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with psycopg.connect(blank_url, autocommit=True) as con:
                migrate(con)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(blank_url, autocommit=True) as con:
        assert schema_version(con) == LATEST
        assert con.execute(f"SELECT count(*) FROM {SCHEMA}.schema_version").fetchone() == (LATEST,)


def test_a_database_with_a_newer_schema_is_refused(blank_url: str) -> None:
    with psycopg.connect(blank_url, autocommit=True) as con:
        migrate(con)
        con.execute(f"INSERT INTO {SCHEMA}.schema_version (version) VALUES (%s)", (LATEST + 1,))
        with pytest.raises(SchemaError, match="upgrade briefbot"):
            migrate(con)

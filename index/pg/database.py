"""One PostgreSQL database: the schema migrated at open, a connection pool for readers, and
dedicated connections for the reindex lock (a session-level lock lives as long as its connection).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool

from index.pg.schema import migrate, search_path


class Database:
    """A pool of connections to one database (thread-safe; share one per process)."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8) -> None:
        self.url = url
        with psycopg.connect(url, autocommit=True) as con:
            self.schema_version = migrate(con)
            row = con.execute(
                "SELECT current_setting('server_version'), "
                "(SELECT extversion FROM pg_extension WHERE extname = 'vector')"
            ).fetchone()
            assert row is not None
            self.engine = f"postgresql {row[0]}, pgvector {row[1]}"
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            configure=configure,
            open=True,
            name="briefbot",
        )

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in autocommit mode (use ``con.transaction()`` for more)."""
        with self.pool.connection() as con:
            yield con

    def dedicated(self) -> psycopg.Connection[Any]:
        """A connection of its own, outside the pool (the caller closes it)."""
        con = psycopg.connect(self.url, autocommit=True)
        try:
            configure(con)
        except BaseException:
            con.close()
            raise
        return con

    def close(self) -> None:
        self.pool.close()


def configure(con: psycopg.Connection[Any]) -> None:
    """Our schema on the search path, and numpy arrays in and out of ``vector`` columns."""
    con.execute(f"SET search_path TO {search_path(con)}")
    register_vector(con)

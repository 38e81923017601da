"""One PostgreSQL database: the schema migrated at open, a connection pool for readers, and
dedicated connections for the reindex lock (a session-level lock lives as long as its connection).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from index.backend import IndexUnavailableError
from index.pg.schema import migrate, search_path

CONNECT_TIMEOUT = 10  # seconds to reach the server; unset, an unreachable host can hang for minutes
POOL_WAIT = 15.0  # seconds a question waits for a connection before "index unavailable"


class Database:
    """A pool of connections to one database (thread-safe; share one per process)."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8) -> None:
        self.url = url
        with psycopg.connect(url, autocommit=True, connect_timeout=_timeout(url)) as con:
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
            kwargs={"autocommit": True, "connect_timeout": _timeout(url)},
            configure=configure,
            open=True,
            name="briefbot",
            timeout=POOL_WAIT,
        )

    def describe(self) -> str:
        """Where the database is, without the password (for status and errors)."""
        return describe_url(self.url)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in autocommit mode (use ``con.transaction()`` for more)."""
        with self.pool.connection() as con:
            yield con

    def dedicated(self) -> psycopg.Connection[Any]:
        """A connection of its own, outside the pool (the caller closes it)."""
        con = psycopg.connect(self.url, autocommit=True, connect_timeout=_timeout(self.url))
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


def _timeout(url: str) -> int:
    """The URL's own ``connect_timeout`` if it sets one, else ours."""
    try:
        given = conninfo_to_dict(url).get("connect_timeout")
    except psycopg.ProgrammingError:
        given = None
    return int(given) if given else CONNECT_TIMEOUT


def describe_url(url: str) -> str:
    """``postgresql://user@host:port/database`` without the password (or the URL's own words
    when it cannot be parsed, minus anything after a colon and before an at sign)."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unparsable database URL"
    host = str(info.get("host") or "localhost")
    port = f":{info['port']}" if info.get("port") else ""
    user = f"{info['user']}@" if info.get("user") else ""
    return f"postgresql://{user}{host}{port}/{info.get('dbname') or ''}"


_shared: dict[str, Database] = {}
_shared_lock = threading.Lock()


def shared_database(url: str) -> Database:
    """This process's one pool for ``url`` (every corpus of every server shares it), opened and
    migrated on first use; ``IndexUnavailableError`` in one line when it cannot be reached."""
    with _shared_lock:
        db = _shared.get(url)
        if db is None:
            db = _shared[url] = open_database(url)
        return db


def open_database(url: str, **pool: int) -> Database:
    """A ``Database``, or ``IndexUnavailableError`` saying (in one line) why it cannot be used."""
    try:
        return Database(url, **pool)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        raise IndexUnavailableError(
            f"the index database {describe_url(url)} cannot be reached ({reason}); check BRIEFBOT_DATABASE_URL"
        ) from None
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise IndexUnavailableError(
            f"the index database {describe_url(url)} cannot be used ({reason})"
        ) from None


def close_shared() -> None:
    """Close every shared pool (tests, and a clean exit)."""
    with _shared_lock:
        for db in _shared.values():
            db.close()
        _shared.clear()

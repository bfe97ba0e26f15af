"""Engines for the stores: SQLite configured for several writer processes, PostgreSQL through psycopg."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import BigInteger, Integer, Select, bindparam, event, func, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

SQLITE_BUSY_TIMEOUT_MS = 5000
BEGIN_MODE_OPTION = "sportapp_begin"
# PostgreSQL's transaction-scoped advisory lock on one 64-bit key, or on a pair of 32-bit ones (a
# key space of its own). Built once: lock_until_commit runs them through SQLAlchemy's Connection,
# the prepared writing unit of work compiles the same ones for its DBAPI cursor.
LOCK_ONE_KEY = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))
LOCK_KEY_PAIR = select(
    func.pg_advisory_xact_lock(bindparam("space", type_=Integer), bindparam("key", type_=Integer))
)


def create_store_engine(url: str, **engine_options: Any) -> Engine:
    """An engine for ``url``. Call it after gunicorn forks: engines hold sockets and file handles.

    On SQLite: WAL (readers never block the writer), ``busy_timeout`` so that concurrent writers
    wait instead of failing, ``synchronous=NORMAL`` (durable in WAL mode across process crashes),
    and transactions that the unit of work opens itself, ``BEGIN IMMEDIATE`` when it will write:
    a deferred transaction that reads and then writes can fail with "database is locked" without
    waiting at all when another process wrote in between.

    On PostgreSQL (``postgresql+psycopg://``): READ COMMITTED unless ``engine_options`` say
    otherwise. The locks of :func:`lock_until_commit` rely on it: each statement after the lock
    sees what the previous holder committed.
    """
    # An error's message never carries what was bound: a users row holds a password hash, and
    # an unexpected error is logged with its message.
    engine_options.setdefault("hide_parameters", True)
    if make_url(url).get_backend_name() == "postgresql":
        engine_options.setdefault("isolation_level", "READ COMMITTED")
    engine = sqlalchemy.create_engine(url, **engine_options)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" event (below) issue BEGIN, instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(BEGIN_MODE_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def store_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the store does not answer (rather than a bug or a constraint).

    OperationalError: locked past busy_timeout, disk I/O, server gone; a dropped connection shows
    as any DBAPIError with ``connection_invalidated`` set.
    """
    return isinstance(error, OperationalError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )


def writing(engine: Engine) -> Engine:
    """A view of ``engine`` (same pool) whose transactions take the write lock at BEGIN."""
    return engine.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})


def lock_until_commit(connection: Connection, *key: int) -> None:
    """Wait for ``key``, and hold it until the transaction ends, on PostgreSQL.

    ``key`` is one 64-bit number or two 32-bit ones (two separate key spaces). A transaction-scoped
    advisory lock, released by PostgreSQL only after the commit is visible to everyone: the next
    holder's statements see what the previous one wrote. On SQLite it does nothing: a writing
    transaction already holds the database's one write lock since ``BEGIN IMMEDIATE``.
    """
    if connection.dialect.name == "postgresql":
        statement, values = advisory_lock(*key)
        connection.execute(statement, values)


def advisory_lock(*key: int) -> tuple[Select[Any], dict[str, int]]:
    """The statement that takes ``key`` (one 64-bit number, or two 32-bit ones) and its values."""
    if len(key) == 1:
        return LOCK_ONE_KEY, {"key": key[0]}
    space, second = key
    return LOCK_KEY_PAIR, {"space": space, "key": second}

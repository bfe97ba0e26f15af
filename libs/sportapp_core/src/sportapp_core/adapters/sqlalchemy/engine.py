"""Engines for the write store, with SQLite configured for several writer processes."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from sportapp_core.adapters.sqlalchemy.tables import metadata

SQLITE_BUSY_TIMEOUT_MS = 5000
BEGIN_MODE_OPTION = "sportapp_begin"


def create_store_engine(url: str, **engine_options: Any) -> Engine:
    """An engine for ``url``. Call it after gunicorn forks: engines hold sockets and file handles.

    On SQLite: WAL (readers never block the writer), ``busy_timeout`` so that concurrent writers
    wait instead of failing, ``synchronous=NORMAL`` (durable in WAL mode across process crashes),
    and transactions that the unit of work opens itself, ``BEGIN IMMEDIATE`` when it will write:
    a deferred transaction that reads and then writes can fail with "database is locked" without
    waiting at all when another process wrote in between.
    """
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


def create_schema(engine: Engine) -> None:
    """Create the write store's tables if they are missing (one writer at a time)."""
    with writing(engine).begin() as connection:
        metadata.create_all(connection)

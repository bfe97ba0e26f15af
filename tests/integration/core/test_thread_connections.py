"""Reads of one statement each on the connection their thread keeps (ThreadConnections, PreparedRead),
on a real SQLite file and a real PostgreSQL server: one connection per thread, reused; no
transaction left open between reads; after the server dropped its connections, one read fails and
no thread's next read does; closing closes every thread's connection."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from sportapp_core.adapters.sqlalchemy.prepared import PreparedRead, ThreadConnections
from sportapp_core.adapters.sqlalchemy.repositories import HEAD
from sportapp_core.services.errors import DependencyUnavailable
from tests.integration.backends import POSTGRESQL, only_on
from tests.integration.core.test_prepared_statements import end_other_connections

pytestmark = pytest.mark.integration

T = TypeVar("T")


@pytest.fixture
def connections(engine: Engine) -> Iterator[ThreadConnections]:
    kept = ThreadConnections(engine)
    yield kept
    kept.close()


def in_thread(work: Callable[[], T]) -> T:
    """``work()``'s result, computed on a thread of its own that has ended by the time it returns."""
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(work()))
    thread.start()
    thread.join(10)
    assert results, "the thread did not finish"
    return results[0]


def is_closed(connection: Any) -> bool:
    """Whether a DBAPI connection (sqlite3's or psycopg's) was closed."""
    if isinstance(connection, sqlite3.Connection):
        try:
            connection.execute("SELECT 1")
        except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
            return True
        return False
    return bool(connection.closed)


def head(connections: ThreadConnections) -> int:
    row = PreparedRead(connections, HEAD, "write store").first({})
    assert row is not None
    return int(row["head"])


def test_a_thread_keeps_its_connection_and_another_thread_gets_its_own(
    connections: ThreadConnections,
) -> None:
    first = connections.connection()
    assert head(connections) == 0
    assert connections.connection() is first

    other = in_thread(connections.connection)

    assert other is not first


def test_a_read_leaves_no_transaction_open(engine: Engine, connections: ThreadConnections) -> None:
    assert head(connections) == 0
    connection = connections.connection()

    if engine.dialect.name == "sqlite":
        assert not connection.in_transaction
    else:
        assert connection.info.transaction_status.name == "IDLE"


def test_close_closes_every_threads_connection(connections: ThreadConnections) -> None:
    mine = connections.connection()
    theirs = in_thread(connections.connection)

    connections.close()

    assert is_closed(mine)
    assert is_closed(theirs)
    assert connections.connection() is not mine  # a new one, for a read after closing


def test_a_new_connection_closes_those_of_threads_that_ended(connections: ThreadConnections) -> None:
    theirs = in_thread(connections.connection)

    connections.connection()

    assert is_closed(theirs)


@only_on(POSTGRESQL)
def test_after_the_server_ended_them_one_read_fails_and_no_thread_reads_on_a_stale_one(
    store_url: str, engine: Engine, connections: ThreadConnections
) -> None:
    kept_by_other_thread: list[Any] = []
    go_on, read_again = threading.Event(), threading.Event()
    results: list[object] = []

    def other_thread() -> None:
        kept_by_other_thread.append(connections.connection())
        go_on.set()
        read_again.wait(10)
        try:
            results.append(head(connections))
        except DependencyUnavailable as error:
            results.append(error)

    thread = threading.Thread(target=other_thread)
    thread.start()
    assert go_on.wait(10)
    mine = connections.connection()
    assert end_other_connections(store_url) >= 2, "the kept connections were not ended"

    with pytest.raises(DependencyUnavailable):
        head(connections)
    read_again.set()
    thread.join(10)

    assert results == [0], "the other thread read on its stale connection"
    assert head(connections) == 0
    assert connections.connection() is not mine


@only_on(POSTGRESQL)
def test_kept_connections_read_in_autocommit_on_postgresql(store_url: str, engine: Engine) -> None:
    """No BEGIN, no idle transaction holding a lock between reads: another session's DDL on the
    table read goes through at once."""
    connections = ThreadConnections(engine)
    admin = create_engine(store_url, poolclass=NullPool)
    try:
        assert head(connections) == 0
        with admin.connect() as connection:
            connection.execute(text("SET lock_timeout = '2s'"))
            connection.execute(text("ALTER TABLE outbox ADD COLUMN probe integer"))
            connection.rollback()
    finally:
        connections.close()
        admin.dispose()

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
from sqlalchemy import Integer, String, bindparam, cast, create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from sportapp_core.adapters.sqlalchemy.prepared import PreparedRead, ThreadConnections
from sportapp_core.adapters.sqlalchemy.repositories import HEAD
from sportapp_core.services.errors import DependencyUnavailable
from tests.integration.backends import POSTGRESQL, only_on
from tests.integration.postgres import end_other_connections

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


@only_on(POSTGRESQL)
def test_a_read_leaves_no_transaction_open_on_postgresql(
    store_url: str, connections: ThreadConnections
) -> None:
    """Autocommit: no BEGIN, no transaction idle between reads holding a lock on what it read, so
    another session's DDL on that table goes through at once. (On SQLite every connection of the
    engine is in autocommit already.)"""
    assert head(connections) == 0

    assert connections.connection().info.transaction_status.name == "IDLE"
    admin = create_engine(store_url, poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text("SET lock_timeout = '2s'"))
            connection.execute(text("ALTER TABLE outbox ADD COLUMN probe integer"))
            columns = connection.execute(
                text("SELECT column_name FROM information_schema.columns WHERE table_name = 'outbox'"
                     " AND table_schema = current_schema()")
            ).scalars().all()
            connection.rollback()
    finally:
        admin.dispose()
    assert "probe" in columns


@only_on(POSTGRESQL)
def test_an_error_that_is_no_disconnect_keeps_the_connection_usable(
    connections: ThreadConnections,
) -> None:
    as_number = PreparedRead(
        connections, select(cast(bindparam("text", type_=String), Integer).label("number")), "write store"
    )
    mine = connections.connection()

    with pytest.raises(DBAPIError, match="invalid input syntax"):
        as_number.first({"text": "twelve"})

    assert as_number.first({"text": "12"}) == {"number": 12}
    assert connections.connection() is mine
    assert mine.info.transaction_status.name == "IDLE"


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
    with engine.connect() as pooled:  # one in the engine's pool too
        pooled.execute(text("SELECT 1"))
    assert end_other_connections(store_url) >= 3, "the connections were not ended"

    with pytest.raises(DependencyUnavailable):
        head(connections)
    read_again.set()
    thread.join(10)

    assert results == [0], "the other thread read on its stale connection"
    assert is_closed(kept_by_other_thread[0])
    assert head(connections) == 0
    assert connections.connection() is not mine
    with engine.connect() as pooled:  # not the pool's stale one
        assert pooled.execute(text("SELECT 1")).scalar_one() == 1


@only_on(POSTGRESQL)
def test_a_stale_read_failing_late_does_not_retire_connections_made_since(
    store_url: str, engine: Engine, connections: ThreadConnections
) -> None:
    """A thread that was already reading on its old connection when another thread found the
    server gone fails its read, and leaves the connections made since in place."""
    stale: list[Any] = []
    kept, fail_now = threading.Event(), threading.Event()
    outcome: list[bool] = []

    def reader_mid_read() -> None:
        stale.append(connections.connection())  # past the generation check, as a read in flight
        kept.set()
        fail_now.wait(10)
        try:
            stale[0].execute("SELECT 1")
        except Exception as error:  # the driver's, whatever it calls a lost server
            outcome.append(connections.lost(error))

    thread = threading.Thread(target=reader_mid_read)
    thread.start()
    assert kept.wait(10)
    connections.connection()
    assert end_other_connections(store_url) >= 2
    with pytest.raises(DependencyUnavailable):
        head(connections)
    assert head(connections) == 0  # on a new connection
    fresh = connections.connection()

    fail_now.set()
    thread.join(10)

    assert outcome == [True]
    assert connections.connection() is fresh

"""Statements compiled once by SQLAlchemy and run straight on a DBAPI connection of its pool.

consulta's hottest answers (a user by id, "is this address taken?") are one indexed lookup each,
db's event stream reads the outbox after a position for every batch it sends, and db's
registration is one short transaction of four statements. Through ``Connection.execute``
SQLAlchemy spends about 290k instructions on such a read (its execution context, result object
and events); the same statement on the pool's DBAPI connection costs about 75k (counted with
callgrind, SQLite, SQLAlchemy 2.1). The statement is still built as a Core ``select()`` or
``insert()`` and compiled by SQLAlchemy for the engine's dialect, connections still come from its
pool (retired on a disconnect, as it would do; a read keeps its thread's, see
:class:`ThreadConnections`), each value goes through its column type's
bind processor and each column of a row through its result processor, and a driver's error is
raised as SQLAlchemy would raise it (``sqlalchemy.exc.DBAPIError``): only the per-call machinery
is left out.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.pool import SingletonThreadPool, StaticPool
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.expression import ReturnsRows

from sportapp_core.services.errors import DependencyUnavailable


class PreparedStatement:
    """One Core statement compiled for one dialect: its SQL, how values are bound to it, and how
    the rows it returns (a ``select()``, or ``RETURNING``) are read.

    ``column_keys`` names the columns an ``insert()`` without ``values()`` is given, as
    ``Connection.execute`` would take them from its parameters.
    """

    def __init__(
        self, statement: ClauseElement, dialect: Dialect, *, column_keys: Sequence[str] | None = None
    ) -> None:
        # A statement compiled for a dialect is an SQL compiler's work (DDL aside, never here).
        compiled = cast(
            SQLCompiler,
            statement.compile(dialect=dialect, column_keys=list(column_keys) if column_keys else None),
        )
        self.sql = str(compiled)
        self._dialect = dialect
        self._positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        # Values the dialect bound itself (SQLite renders a LIMIT with "OFFSET ?" bound to 0).
        self._defaults = dict(compiled.params)
        # Each bound value as its column's type stores it (a UTC datetime made naive for SQLite).
        self._binders: dict[str, Callable[[Any], Any]] = {}
        # The values a call must give (a missing one would otherwise be bound as NULL, silently).
        required = set()
        for bind, name in compiled.bind_names.items():
            if bind.required:
                required.add(name)
            binder = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if binder is not None:
                self._binders[name] = binder
        self._required = frozenset(required)
        columns = list(statement.exported_columns) if isinstance(statement, ReturnsRows) else []
        self._names = [str(column.key) for column in columns]
        # Each type as adapted to this dialect (SQLite's DATETIME reads its text form back).
        self._processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        dbapi = dialect.loaded_dbapi
        self.dbapi_error: type[Exception] = dbapi.Error

    def rows(self, cursor: Any, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run the statement on a DBAPI ``cursor`` with ``parameters``; every row it returns, each
        as ``{column: value}`` (none for a statement that returns none).

        A value missing or refused raises ``StatementError``, a driver's error ``DBAPIError``, as
        through SQLAlchemy's ``Connection``; never with the values in the message (one of them may
        be a password hash)."""
        bound = self._bind(parameters)
        try:
            cursor.execute(self.sql, bound)
            fetched = cursor.fetchall() if self._names else []
        except self.dbapi_error as error:
            raise sqlalchemy_error(self.sql, error, self._dialect) from error
        except Exception as error:  # the driver refusing a value (sqlite3: an int past 64 bits)
            raise StatementError(str(error), self.sql, None, error, hide_parameters=True) from error
        return [
            {
                name: value if process is None else process(value)
                for name, process, value in zip(self._names, self._processors, row, strict=True)
            }
            for row in fetched
        ]

    def _bind(self, parameters: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        if not self._required <= parameters.keys():
            missing = ", ".join(sorted(self._required - parameters.keys()))
            raise StatementError(f"no value given for {missing}", self.sql, None, None)
        values = {**self._defaults, **parameters}
        for name, binder in self._binders.items():
            try:
                values[name] = binder(values[name])
            except Exception as error:  # a type refusing a value (a naive datetime, not a date)
                raise StatementError(str(error), self.sql, None, error, hide_parameters=True) from error
        if self._positions is not None:
            return tuple(values[name] for name in self._positions)
        return values


class ThreadConnections:
    """A DBAPI connection for each thread that reads, taken from ``engine``'s pool once and kept by
    that thread, in autocommit: for reads of one statement each (:class:`PreparedRead`).

    Through the pool, each read paid a checkout and a return (the pool's records, its events, its
    reset): about a tenth of consulta's answer to ``GET /user-queries/users/<id>`` in its process
    (SQLite, py-spy). A kept connection pays neither. It is detached from the pool (the pool's
    public way of handing a connection over for good), so the pool's size limits the connections
    it lends out, not these: one more per thread that reads (on PostgreSQL, count them with the
    pool's against ``max_connections``: db's feed reads on each of its worker's threads). In
    autocommit each read is a transaction of its own, as it was between a checkout and the reset at
    return: on PostgreSQL without a BEGIN and a ROLLBACK around it, and without a transaction left
    idle between reads. A pool that holds one connection per thread, or one for all (SQLite in
    memory, where the connection is the database), keeps it: the thread holds it checked out.

    A connection that lost its server retires every connection kept before it, in every thread
    (each thread replaces its own at its next read) and in the pool: after a database restart they
    are all stale, and each would otherwise fail a request of its own. A thread that ended leaves
    its connection behind; the next new connection closes it, and :meth:`close` closes them all.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        # Bumped when a connection lost its server: a kept connection from an older one is stale.
        self._generation = 0
        self._kept: list[_KeptConnection] = []
        self._detach = not isinstance(engine.pool, SingletonThreadPool | StaticPool)

    def connection(self) -> Any:
        """This thread's DBAPI connection (a new one the first time, or after a disconnect).

        Raises what the pool raises when it cannot connect, or the driver when it refuses
        autocommit (the driver's error, or ``DBAPIError``)."""
        kept: _KeptConnection | None = getattr(self._local, "kept", None)
        # Read before the checkout: a connection checked out while another thread retires the
        # older ones may be one of them, and is then replaced before its first read.
        generation = self._generation
        if kept is not None and kept.generation == generation:
            return kept.connection
        if kept is not None:
            self._discard(kept)
        pooled = self.engine.raw_connection()
        try:
            dbapi_connection = pooled.dbapi_connection
            assert dbapi_connection is not None, "the pool hands out open connections"
            self.engine.dialect.set_isolation_level(dbapi_connection, "AUTOCOMMIT")
        except BaseException:
            pooled.close()
            raise
        if self._detach:
            pooled.detach()
            release = dbapi_connection.close
        else:
            release = pooled.close
        kept = _KeptConnection(dbapi_connection, release, threading.current_thread(), generation)
        with self._lock:
            ended = [other for other in self._kept if not other.thread.is_alive()]
            self._kept = [other for other in self._kept if other.thread.is_alive()]
            self._kept.append(kept)
        for other in ended:
            other.release_quietly()
        self._local.kept = kept
        return dbapi_connection

    def lost(self, error: BaseException) -> bool:
        """Whether ``error`` (the driver's, or SQLAlchemy's around it), raised by this thread's
        connection, says the connection lost its server; if so, that connection and every one
        kept or pooled before it is retired."""
        kept: _KeptConnection | None = getattr(self._local, "kept", None)
        original = None if kept is None else disconnect_error(self.engine, kept.connection, error)
        if kept is None or original is None:
            return False
        with self._lock:
            # Only the first failure of a generation retires the others: a thread whose read on
            # an older connection fails later must not retire those made since.
            first = kept.generation == self._generation
            if first:
                self._generation += 1
        self._discard(kept)
        if first:
            # The pool's connections from before now are replaced at their next checkout (private
            # in SQLAlchemy, as in invalidate_if_disconnected; no connection of the pool's to
            # check in).
            self.engine.pool._invalidate(cast(Any, None), original, _checkin=False)
        return True

    def close(self) -> None:
        """Close every kept connection, once no thread reads any more (a worker exits without it;
        tests and tools call it). A read after it takes a new connection."""
        with self._lock:
            kept, self._kept = self._kept, []
            self._generation += 1
        for each in kept:
            each.release_quietly()

    def _discard(self, kept: _KeptConnection) -> None:
        self._local.kept = None
        with self._lock:
            if kept in self._kept:
                self._kept.remove(kept)
        kept.release_quietly()


@dataclass(frozen=True, eq=False)
class _KeptConnection:
    connection: Any
    # Closes a detached connection, or gives one back to a pool that keeps it.
    release: Callable[[], None]
    thread: threading.Thread
    generation: int

    def release_quietly(self) -> None:
        # A connection whose server is gone may fail to close; it is dropped either way.
        with contextlib.suppress(Exception):
            self.release()


class PreparedRead:
    """One ``select()``, on each thread's own connection (:class:`ThreadConnections`): its first
    row, or all of them."""

    def __init__(self, connections: ThreadConnections, statement: ClauseElement, store: str) -> None:
        self._connections = connections
        self._store = store
        self._statement = PreparedStatement(statement, connections.engine.dialect)
        dbapi = connections.engine.dialect.loaded_dbapi
        self._dbapi_unavailable: type[Exception] = dbapi.OperationalError

    def first(self, parameters: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row for ``parameters`` as ``{column: value}``, or None (every row is fetched:
        for lookups of one row by a unique key).

        Raises :class:`DependencyUnavailable` when the store does not answer.
        """
        rows = self.all(parameters)
        return rows[0] if rows else None

    def all(self, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row for ``parameters``, each as ``{column: value}``.

        Raises :class:`DependencyUnavailable` when the store does not answer.
        """
        try:
            connection = self._connections.connection()
        except (DBAPIError, self._statement.dbapi_error) as error:
            # The pool hands connection errors on as the driver raised them.
            raise DependencyUnavailable(self._store) from error
        try:
            cursor = connection.cursor()
            try:
                return self._statement.rows(cursor, parameters)
            finally:
                cursor.close()
        except (DBAPIError, self._statement.dbapi_error) as error:
            if self._connections.lost(error) or isinstance(
                getattr(error, "orig", error), self._dbapi_unavailable
            ):
                raise DependencyUnavailable(self._store) from error
            raise


def sqlalchemy_error(statement: str, error: Exception, dialect: Dialect) -> Exception:
    """The driver's ``error`` during ``statement`` as SQLAlchemy's ``Connection`` raises it
    (``DBAPIError`` or its subclass for the error's kind), without the bound values."""
    wrapped = DBAPIError.instance(
        statement, None, error, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
    )
    return cast(Exception, wrapped)


def invalidate_if_disconnected(engine: Engine, connection: Any, error: BaseException) -> bool:
    """Whether ``error`` (the driver's, or SQLAlchemy's around it) says the pooled ``connection``
    lost its server; if so, it is not reused, and neither is any connection the pool opened before
    it. That is what SQLAlchemy's ``Connection`` does on a disconnect (through the pool's
    ``_invalidate``, which has no public name): after a database restart every older connection is
    stale too, and each would otherwise fail one request of its own before it is replaced."""
    original = disconnect_error(engine, connection.dbapi_connection, error)
    if original is None:
        return False
    engine.pool._invalidate(connection, original)  # private in SQLAlchemy: see above
    return True


def disconnect_error(engine: Engine, dbapi_connection: Any, error: BaseException) -> Exception | None:
    """The driver's error in ``error`` (itself, or SQLAlchemy's around it) if it says
    ``dbapi_connection`` lost its server, as ``engine``'s dialect judges it; None otherwise."""
    original = getattr(error, "orig", None) if isinstance(error, DBAPIError) else error
    if not isinstance(original, engine.dialect.loaded_dbapi.Error):
        return None
    if not engine.dialect.is_disconnect(cast(Any, original), dbapi_connection, None):
        return None
    return cast(Exception, original)

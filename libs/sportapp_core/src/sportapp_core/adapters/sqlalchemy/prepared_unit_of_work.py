"""The writing unit of work on the pool's DBAPI connection, every statement prepared once.

db records each registration in one writing transaction: the key's record read, the user, its
event and the key's new record written. Through SQLAlchemy's ``Connection`` (a connection, a
transaction and an execution context per statement, with their events) that transaction was more
than half of what db's whole answer to a registration cost in-process: 0.53 ms of CPU through
Flask, 0.34 ms with the same statements prepared here (2,000 registrations on a SQLite file,
alternated). The statements are the repositories' own Core statements
(:mod:`~sportapp_core.adapters.sqlalchemy.statements`), compiled by SQLAlchemy for the engine's
dialect (:class:`~sportapp_core.adapters.sqlalchemy.prepared.PreparedStatement`); the transaction
is the same one: ``BEGIN IMMEDIATE`` on SQLite (the write lock up front), READ COMMITTED on
PostgreSQL with the same advisory locks. Reading units stay on SQLAlchemy's ``Connection``
(:class:`~sportapp_core.adapters.sqlalchemy.unit_of_work.SqlAlchemyUnitOfWork`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError

from sportapp_core.adapters.sqlalchemy import statements as core
from sportapp_core.adapters.sqlalchemy.engine import (
    LOCK_KEY_PAIR,
    LOCK_ONE_KEY,
    advisory_lock,
    store_unavailable,
)
from sportapp_core.adapters.sqlalchemy.prepared import (
    PreparedStatement,
    invalidate_if_disconnected,
    sqlalchemy_error,
)
from sportapp_core.adapters.sqlalchemy.repositories import (
    WRITE_STORE,
    event_from_row,
    event_values,
    key_record_from_row,
    user_from_row,
)
from sportapp_core.domain import MAX_ID, EmailTaken, NewUser, User, UserRegistered
from sportapp_core.ports import IdempotencyRecord, StoredEvent
from sportapp_core.services.errors import DependencyUnavailable


class WriteStatements:
    """Every statement a writing unit runs, compiled once for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.key = PreparedStatement(core.KEY, dialect)
        self.add_key = PreparedStatement(core.ADD_KEY, dialect, column_keys=core.KEY_COLUMNS)
        self.insert_user = PreparedStatement(
            core.INSERT_USER[dialect.name], dialect, column_keys=core.USER_COLUMNS
        )
        self.user_by_id = PreparedStatement(core.USER_BY_ID, dialect)
        self.users_first = PreparedStatement(core.USERS_FIRST, dialect)
        self.users_after = PreparedStatement(core.USERS_AFTER, dialect)
        self.user_count = PreparedStatement(core.USER_COUNT, dialect)
        self.append_event = PreparedStatement(core.APPEND_EVENT, dialect, column_keys=core.EVENT_COLUMNS)
        self.events_after = PreparedStatement(core.EVENTS_AFTER, dialect)
        self.head = PreparedStatement(core.HEAD, dialect)
        # PostgreSQL's advisory locks, the ones lock_until_commit takes, by statement. SQLite takes
        # none: a writing transaction holds the database's one write lock from BEGIN.
        self.locks: dict[Select[Any], PreparedStatement] | None = None
        if dialect.name == "postgresql":
            self.locks = {lock: PreparedStatement(lock, dialect) for lock in (LOCK_ONE_KEY, LOCK_KEY_PAIR)}
        # SQLite's connections run without pysqlite's implicit transactions (create_store_engine):
        # the unit begins its own, with the write lock. psycopg begins one at the first statement.
        self.begin = "BEGIN IMMEDIATE" if dialect.name == "sqlite" else None
        dbapi = dialect.loaded_dbapi
        self.dbapi_error: type[Exception] = dbapi.Error
        self.dbapi_unavailable: type[Exception] = dbapi.OperationalError


class _UnitCursor:
    """The unit's DBAPI cursor: runs its statements until the unit commits or ends."""

    def __init__(self, statements: WriteStatements, cursor: Any) -> None:
        self.statements = statements
        self._cursor = cursor
        self.done = False

    def rows(self, statement: PreparedStatement, **parameters: Any) -> list[dict[str, Any]]:
        # After the commit SQLite would run a statement in a transaction of its own, committed at
        # once, which the unit could no longer roll back.
        if self.done:
            raise RuntimeError("the unit of work has committed or ended: it runs no more statements")
        return statement.rows(self._cursor, parameters)

    def close(self) -> None:
        """Run nothing more, and close the DBAPI cursor."""
        self.done = True
        self._cursor.close()

    def lock(self, *key: int) -> None:
        """Wait for ``key`` and hold it until the transaction ends (PostgreSQL; nothing on SQLite,
        whose writing transaction holds the database's one write lock since it began)."""
        if self.statements.locks is None:
            return
        statement, values = advisory_lock(*key)
        self.rows(self.statements.locks[statement], **values)


class PreparedUsers:
    """Users in the ``users`` table, within one writing unit."""

    def __init__(self, cursor: _UnitCursor) -> None:
        self._cursor = cursor
        self._statements = cursor.statements

    def add(self, new_user: NewUser, created_at: datetime) -> User:
        """Insert ``new_user``; a taken address inserts nothing (``ON CONFLICT DO NOTHING``) and is
        :class:`EmailTaken`, and the transaction goes on."""
        inserted = self._cursor.rows(
            self._statements.insert_user,
            email=new_user.email.value,
            email_canonical=new_user.email.canonical,
            password_hash=new_user.password_hash,
            created_at=created_at,
        )
        if not inserted:
            raise EmailTaken()
        return User(
            id=inserted[0]["id"],
            email=new_user.email,
            password_hash=new_user.password_hash,
            created_at=created_at,
        )

    def get(self, user_id: int) -> User | None:
        """The user with ``user_id``, if any."""
        if not 1 <= user_id <= MAX_ID:
            return None  # no store holds such an id, and the driver would refuse to bind it
        rows = self._cursor.rows(self._statements.user_by_id, user_id=user_id)
        return user_from_row(rows[0]) if rows else None

    def list(self, *, after: int | None, limit: int) -> Sequence[User]:
        """Up to ``limit`` users with ids above ``after``, in id order."""
        if after is None:
            rows = self._cursor.rows(self._statements.users_first, limit=limit)
        else:
            rows = self._cursor.rows(self._statements.users_after, after=after, limit=limit)
        return [user_from_row(row) for row in rows]

    def count(self) -> int:
        """How many users there are."""
        return int(self._cursor.rows(self._statements.user_count)[0]["count"])


class PreparedOutbox:
    """The outbox within one writing unit: appended under the tail lock, read by position (see
    :class:`~sportapp_core.adapters.sqlalchemy.repositories.SqlAlchemyOutbox` for why positions
    are taken this way)."""

    def __init__(self, cursor: _UnitCursor) -> None:
        self._cursor = cursor
        self._statements = cursor.statements

    def append(self, event: UserRegistered, recorded_at: datetime) -> int:
        """Insert ``event`` at the next position; return the position."""
        self._cursor.lock(core.OUTBOX_TAIL_LOCK)
        [appended] = self._cursor.rows(self._statements.append_event, **event_values(event, recorded_at))
        return int(appended["position"])

    def read_after(self, position: int, limit: int) -> Sequence[StoredEvent]:
        """Up to ``limit`` events after ``position``, in position order."""
        rows = self._cursor.rows(self._statements.events_after, after=position, limit=limit)
        return [event_from_row(row) for row in rows]

    def head(self) -> int:
        """The newest position, 0 if the outbox is empty."""
        return int(self._cursor.rows(self._statements.head)[0]["head"])


class PreparedIdempotencyKeys:
    """Idempotency-Key records within one writing unit: a key read stays as read until the unit
    ends (SQLite's write lock; on PostgreSQL the key's own lock, taken before it is read)."""

    def __init__(self, cursor: _UnitCursor) -> None:
        self._cursor = cursor
        self._statements = cursor.statements

    def get(self, key: str) -> IdempotencyRecord | None:
        """The record of ``key``, if any."""
        self._cursor.lock(core.IDEMPOTENCY_KEY_LOCKS, core.idempotency_lock_key(key))
        rows = self._cursor.rows(self._statements.key, key=key)
        if not rows:
            return None
        [row] = rows
        return key_record_from_row(row)

    def add(self, record: IdempotencyRecord) -> None:
        """Insert the record of a key this unit found unknown (and holds since :meth:`get`)."""
        self._cursor.rows(
            self._statements.add_key,
            key=record.key,
            email_canonical=record.email_canonical,
            user_id=record.user_id,
        )


class PreparedUnitOfWork:
    """A writing transaction on the write store, on a DBAPI connection of the engine's pool;
    rolled back on exit unless committed. A store that does not answer (or whose connection was
    lost) is :class:`DependencyUnavailable`; any other failure of the driver comes as SQLAlchemy's
    ``DBAPIError``, as from :class:`~sportapp_core.adapters.sqlalchemy.unit_of_work.SqlAlchemyUnitOfWork`."""

    users: PreparedUsers
    outbox: PreparedOutbox
    events: PreparedOutbox
    idempotency: PreparedIdempotencyKeys

    def __init__(self, engine: Engine, statements: WriteStatements) -> None:
        self._engine = engine
        self._statements = statements
        self._connection: Any = None
        self._cursor: _UnitCursor | None = None

    def __enter__(self) -> PreparedUnitOfWork:
        try:
            self._connection = self._engine.raw_connection()
            cursor = self._connection.cursor()
            self._cursor = _UnitCursor(self._statements, cursor)
            if self._statements.begin is not None:
                cursor.execute(self._statements.begin)
        except (DBAPIError, self._statements.dbapi_error) as error:
            if self._end(error) or self._unavailable(error):
                raise DependencyUnavailable(WRITE_STORE) from error
            if isinstance(error, DBAPIError):
                raise
            # The pool and BEGIN raise what the driver raised; SQLAlchemy's Connection wraps it.
            statement = self._statements.begin or "CONNECT"
            raise sqlalchemy_error(statement, error, self._statements.dialect) from error
        self.users = PreparedUsers(self._cursor)
        self.outbox = self.events = PreparedOutbox(self._cursor)
        self.idempotency = PreparedIdempotencyKeys(self._cursor)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        disconnected = self._end(exc)
        if exc is not None and (disconnected or self._unavailable(exc)):
            # The callers speak the domain's language: the store is unavailable, retry later.
            raise DependencyUnavailable(WRITE_STORE) from exc

    def commit(self) -> None:
        """Commit the transaction; the unit runs no statement after it."""
        assert self._connection is not None, "commit outside of 'with'"
        assert self._cursor is not None
        self._cursor.done = True
        try:
            self._connection.commit()
        except self._statements.dbapi_error as error:
            raise sqlalchemy_error("COMMIT", error, self._statements.dialect) from error

    def _end(self, error: BaseException | None) -> bool:
        """Roll back whatever was not committed and give the connection back to the pool; whether
        ``error`` says the connection was lost (then neither it nor any older one is reused)."""
        connection, self._connection, cursor, self._cursor = self._connection, None, self._cursor, None
        if connection is None:
            return False
        disconnected = False
        try:
            if cursor is not None:
                cursor.close()
            if error is not None:
                disconnected = invalidate_if_disconnected(self._engine, connection, error)
            if not disconnected:
                connection.rollback()
        except self._statements.dbapi_error:
            connection.invalidate()  # a connection that cannot roll back is not reused
        finally:
            connection.close()
        return disconnected

    def _unavailable(self, error: BaseException) -> bool:
        if isinstance(error, DBAPIError):
            return store_unavailable(error)
        return isinstance(error, self._statements.dbapi_unavailable)

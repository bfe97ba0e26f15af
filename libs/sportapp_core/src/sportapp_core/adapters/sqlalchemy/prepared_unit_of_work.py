"""The writing unit of work on the pool's DBAPI connection, every statement prepared once.

db records each registration in one writing transaction: the key's record read, the user, its
event and the key's new record written. Through SQLAlchemy's ``Connection`` (a connection, a
transaction and an execution context per statement, with their events) that transaction was more
than half of what db's whole answer cost in-process: 0.51 ms of CPU a registration, 0.29 ms with
the same statements prepared here (2,000 registrations on a SQLite file, three runs each,
alternated). The statements are the repositories' own Core statements
(:mod:`~sportapp_core.adapters.sqlalchemy.repositories`), compiled by SQLAlchemy for the engine's
dialect (:class:`~sportapp_core.adapters.sqlalchemy.prepared.PreparedStatement`); the transaction
is the same one: ``BEGIN IMMEDIATE`` on SQLite (the write lock up front), READ COMMITTED on
PostgreSQL with the same advisory locks. Reading units stay on SQLAlchemy's ``Connection``
(:class:`~sportapp_core.adapters.sqlalchemy.unit_of_work.SqlAlchemyUnitOfWork`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, cast

from sqlalchemy import BigInteger, Integer, bindparam, func, select
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError

from sportapp_core.adapters.sqlalchemy import statements as core
from sportapp_core.adapters.sqlalchemy.engine import store_unavailable
from sportapp_core.adapters.sqlalchemy.prepared import PreparedStatement
from sportapp_core.adapters.sqlalchemy.repositories import WRITE_STORE
from sportapp_core.domain import MAX_ID, EmailAddress, EmailTaken, NewUser, User, UserRegistered
from sportapp_core.ports import IdempotencyRecord, StoredEvent
from sportapp_core.services.errors import DependencyUnavailable

_USER_COLUMNS = ("email", "email_canonical", "password_hash", "created_at")
_EVENT_COLUMNS = ("name", "payload", "recorded_at")
_KEY_COLUMNS = ("key", "email_canonical", "user_id")


class WriteStatements:
    """Every statement a writing unit runs, compiled once for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.key = PreparedStatement(core.KEY, dialect)
        self.add_key = PreparedStatement(core.ADD_KEY, dialect, column_keys=_KEY_COLUMNS)
        self.insert_user = PreparedStatement(
            core.INSERT_USER[dialect.name], dialect, column_keys=_USER_COLUMNS
        )
        self.user_by_id = PreparedStatement(core.USER_BY_ID, dialect)
        self.users_first = PreparedStatement(core.USERS_FIRST, dialect)
        self.users_after = PreparedStatement(core.USERS_AFTER, dialect)
        self.user_count = PreparedStatement(core.USER_COUNT, dialect)
        self.append_event = PreparedStatement(core.APPEND_EVENT, dialect, column_keys=_EVENT_COLUMNS)
        self.events_after = PreparedStatement(core.EVENTS_AFTER, dialect)
        self.head = PreparedStatement(core.HEAD, dialect)
        # PostgreSQL's advisory locks (see lock_until_commit): one 64-bit key, or two 32-bit ones.
        # SQLite takes none: a writing transaction holds the database's one write lock from BEGIN.
        self.locks: tuple[PreparedStatement, PreparedStatement] | None = None
        if dialect.name == "postgresql":
            one_key = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))
            two_keys = select(
                func.pg_advisory_xact_lock(bindparam("space", type_=Integer), bindparam("key", type_=Integer))
            )
            self.locks = (PreparedStatement(one_key, dialect), PreparedStatement(two_keys, dialect))
        # SQLite's connections run without pysqlite's implicit transactions (create_store_engine):
        # the unit begins its own, with the write lock. psycopg begins one at the first statement.
        self.begin = "BEGIN IMMEDIATE" if dialect.name == "sqlite" else None
        dbapi = dialect.loaded_dbapi
        self.dbapi_error: type[Exception] = dbapi.Error
        self.dbapi_unavailable: type[Exception] = dbapi.OperationalError


class _Transaction:
    """One DBAPI cursor inside the unit's transaction."""

    def __init__(self, statements: WriteStatements, cursor: Any) -> None:
        self.statements = statements
        self._cursor = cursor

    def rows(self, statement: PreparedStatement, **parameters: Any) -> list[dict[str, Any]]:
        return statement.rows(self._cursor, parameters)

    def lock(self, *key: int) -> None:
        """Wait for ``key`` and hold it until the transaction ends (PostgreSQL; nothing on SQLite,
        whose writing transaction holds the database's one write lock since it began)."""
        if self.statements.locks is None:
            return
        one_key, two_keys = self.statements.locks
        if len(key) == 1:
            self.rows(one_key, key=key[0])
        else:
            space, second = key
            self.rows(two_keys, space=space, key=second)


class PreparedUsers:
    """Users in the ``users`` table, within one writing unit."""

    def __init__(self, transaction: _Transaction) -> None:
        self._transaction = transaction
        self._statements = transaction.statements

    def add(self, new_user: NewUser, created_at: datetime) -> User:
        """Insert ``new_user``; a taken address inserts nothing (``ON CONFLICT DO NOTHING``) and is
        :class:`EmailTaken`, and the transaction goes on."""
        inserted = self._transaction.rows(
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
        rows = self._transaction.rows(self._statements.user_by_id, user_id=user_id)
        return _user(rows[0]) if rows else None

    def list(self, *, after: int | None, limit: int) -> Sequence[User]:
        """Up to ``limit`` users with ids above ``after``, in id order."""
        if after is None:
            rows = self._transaction.rows(self._statements.users_first, limit=limit)
        else:
            rows = self._transaction.rows(self._statements.users_after, after=after, limit=limit)
        return [_user(row) for row in rows]

    def count(self) -> int:
        """How many users there are."""
        return int(self._transaction.rows(self._statements.user_count)[0]["count"])


class PreparedOutbox:
    """The outbox within one writing unit: appended under the tail lock, read by position (see
    :class:`~sportapp_core.adapters.sqlalchemy.repositories.SqlAlchemyOutbox` for why positions
    are taken this way)."""

    def __init__(self, transaction: _Transaction) -> None:
        self._transaction = transaction
        self._statements = transaction.statements

    def append(self, event: UserRegistered, recorded_at: datetime) -> int:
        """Insert ``event`` at the next position; return the position."""
        self._transaction.lock(core.OUTBOX_TAIL_LOCK)
        [appended] = self._transaction.rows(
            self._statements.append_event,
            name=event.name,
            payload=json.dumps(event.to_payload(), separators=(",", ":")),
            recorded_at=recorded_at,
        )
        return int(appended["position"])

    def read_after(self, position: int, limit: int) -> Sequence[StoredEvent]:
        """Up to ``limit`` events after ``position``, in position order."""
        rows = self._transaction.rows(self._statements.events_after, after=position, limit=limit)
        return [
            StoredEvent(
                position=row["position"],
                name=row["name"],
                payload=json.loads(row["payload"]),
                recorded_at=row["recorded_at"],
            )
            for row in rows
        ]

    def head(self) -> int:
        """The newest position, 0 if the outbox is empty."""
        return int(self._transaction.rows(self._statements.head)[0]["head"])


class PreparedIdempotencyKeys:
    """Idempotency-Key records within one writing unit: a key read stays as read until the unit
    ends (SQLite's write lock; on PostgreSQL the key's own lock, taken before it is read)."""

    def __init__(self, transaction: _Transaction) -> None:
        self._transaction = transaction
        self._statements = transaction.statements

    def get(self, key: str) -> IdempotencyRecord | None:
        """The record of ``key``, if any."""
        self._transaction.lock(core.IDEMPOTENCY_KEY_LOCKS, core.idempotency_lock_key(key))
        rows = self._transaction.rows(self._statements.key, key=key)
        if not rows:
            return None
        [row] = rows
        return IdempotencyRecord(
            key=row["key"], email_canonical=row["email_canonical"], user_id=row["user_id"]
        )

    def add(self, record: IdempotencyRecord) -> None:
        """Insert the record of a key this unit found unknown (and holds since :meth:`get`)."""
        self._transaction.rows(
            self._statements.add_key,
            key=record.key,
            email_canonical=record.email_canonical,
            user_id=record.user_id,
        )


class PreparedUnitOfWork:
    """A writing transaction on the write store, on a DBAPI connection of the engine's pool;
    rolled back on exit unless committed."""

    users: PreparedUsers
    outbox: PreparedOutbox
    events: PreparedOutbox
    idempotency: PreparedIdempotencyKeys

    def __init__(self, engine: Engine, statements: WriteStatements) -> None:
        self._engine = engine
        self._statements = statements
        self._connection: Any = None
        self._cursor: Any = None

    def __enter__(self) -> PreparedUnitOfWork:
        try:
            self._connection = self._engine.raw_connection()
            self._cursor = self._connection.cursor()
            if self._statements.begin is not None:
                self._cursor.execute(self._statements.begin)
        except (DBAPIError, self._statements.dbapi_error) as error:
            self._close(error)
            if self._unavailable(error):
                raise DependencyUnavailable(WRITE_STORE) from error
            raise
        transaction = _Transaction(self._statements, self._cursor)
        self.users = PreparedUsers(transaction)
        self.outbox = self.events = PreparedOutbox(transaction)
        self.idempotency = PreparedIdempotencyKeys(transaction)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close(exc)
        if exc is not None and self._unavailable(exc):
            # The callers speak the domain's language: the store is unavailable, retry later.
            raise DependencyUnavailable(WRITE_STORE) from exc

    def commit(self) -> None:
        """Commit the transaction."""
        assert self._connection is not None, "commit outside of 'with'"
        try:
            self._connection.commit()
        except self._statements.dbapi_error as error:
            raise DBAPIError.instance(
                "COMMIT", None, error, self._statements.dbapi_error, dialect=self._statements.dialect
            ) from error

    def _close(self, error: BaseException | None) -> None:
        """Roll back whatever was not committed and give the connection back to the pool (or
        drop it, when ``error`` says it is broken)."""
        connection, self._connection, cursor, self._cursor = self._connection, None, self._cursor, None
        if connection is None:
            return
        try:
            if cursor is not None:
                cursor.close()
            if self._disconnected(error, connection):
                connection.invalidate(getattr(error, "orig", error))
            else:
                connection.rollback()
        except self._statements.dbapi_error:
            connection.invalidate()  # a connection that cannot roll back is not reused
        finally:
            connection.close()

    def _unavailable(self, error: BaseException) -> bool:
        # The pool, and BEGIN, raise what the driver raised; a statement raises SQLAlchemy's
        # DBAPIError (PreparedStatement).
        if isinstance(error, DBAPIError):
            return store_unavailable(error)
        return isinstance(error, self._statements.dbapi_unavailable)

    def _disconnected(self, error: BaseException | None, connection: Any) -> bool:
        original = getattr(error, "orig", error)
        return isinstance(original, self._statements.dbapi_error) and self._statements.dialect.is_disconnect(
            cast(Any, original), connection.dbapi_connection, None
        )


def _user(row: dict[str, Any]) -> User:
    return User(
        id=row["id"],
        # As stored: parsed at the edge when it was registered, not parsed again.
        email=EmailAddress(value=row["email"], canonical=row["email_canonical"]),
        password_hash=row["password_hash"],
        created_at=row["created_at"],
    )

"""Repositories over one SQLAlchemy connection (the unit of work's transaction), running the
write store's statements (:mod:`~sportapp_core.adapters.sqlalchemy.statements`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from sportapp_core.adapters.sqlalchemy.engine import lock_until_commit
from sportapp_core.adapters.sqlalchemy.prepared import PreparedRead, ThreadConnections
from sportapp_core.adapters.sqlalchemy.statements import (
    ADD_KEY,
    APPEND_EVENT,
    EVENTS_AFTER,
    HEAD,
    IDEMPOTENCY_KEY_LOCKS,
    INSERT_USER,
    KEY,
    OUTBOX_TAIL_LOCK,
    USER_BY_ID,
    USER_COUNT,
    USERS_AFTER,
    USERS_FIRST,
    idempotency_lock_key,
)
from sportapp_core.domain import MAX_ID, EmailAddress, EmailTaken, NewUser, User, UserRegistered
from sportapp_core.ports import IdempotencyRecord, StoredEvent

WRITE_STORE = "write store"


def user_from_row(row: Mapping[Any, Any]) -> User:
    """A ``users`` row as the domain's :class:`User`."""
    return User(
        id=row["id"],
        # As stored: parsed at the edge when it was registered, not parsed again.
        email=EmailAddress(value=row["email"], canonical=row["email_canonical"]),
        password_hash=row["password_hash"],
        created_at=row["created_at"],
    )


def event_from_row(row: Mapping[Any, Any]) -> StoredEvent:
    """An ``outbox`` row as a :class:`StoredEvent`."""
    return StoredEvent(
        position=row["position"],
        name=row["name"],
        payload=json.loads(row["payload"]),
        recorded_at=row["recorded_at"],
    )


def key_record_from_row(row: Mapping[Any, Any]) -> IdempotencyRecord:
    """An ``idempotency_keys`` row as an :class:`IdempotencyRecord`."""
    return IdempotencyRecord(key=row["key"], email_canonical=row["email_canonical"], user_id=row["user_id"])


def event_values(event: UserRegistered, recorded_at: datetime) -> dict[str, Any]:
    """The values of ``event``'s ``outbox`` row (its position aside: the outbox gives it)."""
    return {
        "name": event.name,
        "payload": json.dumps(event.to_payload(), separators=(",", ":")),
        "recorded_at": recorded_at,
    }


class SqlAlchemyUserRepository:
    """Users in the ``users`` table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, new_user: NewUser, created_at: datetime) -> User:
        """Insert ``new_user``; the unique index turns a taken address into :class:`EmailTaken`.

        ``ON CONFLICT DO NOTHING``: a taken address inserts no row, and the transaction goes on
        (no savepoint needed to survive the constraint on PostgreSQL). A concurrent transaction
        inserting the same address is waited for, then decides.
        """
        values = {
            "email": new_user.email.value,
            "email_canonical": new_user.email.canonical,
            "password_hash": new_user.password_hash,
            "created_at": created_at,
        }
        insert_user = INSERT_USER[self._connection.dialect.name]
        user_id = self._connection.execute(insert_user, values).scalar_one_or_none()
        if user_id is None:
            raise EmailTaken()
        return User(
            id=user_id, email=new_user.email, password_hash=new_user.password_hash, created_at=created_at
        )

    def get(self, user_id: int) -> User | None:
        """The user with ``user_id``, if any."""
        if not 1 <= user_id <= MAX_ID:
            return None  # no store holds such an id, and the driver would refuse to bind it
        row = self._connection.execute(USER_BY_ID, {"user_id": user_id}).first()
        return user_from_row(row._mapping) if row else None

    def list(self, *, after: int | None, limit: int) -> Sequence[User]:
        """Up to ``limit`` users with ids above ``after``, in id order."""
        if after is None:
            rows = self._connection.execute(USERS_FIRST, {"limit": limit})
        else:
            rows = self._connection.execute(USERS_AFTER, {"after": after, "limit": limit})
        return [user_from_row(row._mapping) for row in rows]

    def count(self) -> int:
        """How many users there are."""
        return int(self._connection.execute(USER_COUNT).scalar_one())


class SqlAlchemyOutbox:
    """The outbox table, written with the state change and read by position.

    Positions are given in commit order and without gaps, so that a reader resuming "after N" never
    skips an event that commits late. Each position is the newest one + 1, taken while holding a
    lock that lasts until the transaction ends: at most one transaction at a time has an
    uncommitted outbox row, and its position is above every committed one. A rolled-back row
    leaves no hole, the next writer takes its position. On SQLite the lock is the write lock that
    writing transactions take at ``BEGIN IMMEDIATE``; on PostgreSQL, where writers run
    concurrently, it is an advisory lock taken right before the insert, so that writers queue only
    for the tail of their transactions. (A sequence would hand out positions at insert, not at
    commit: a reader could pass position 8, committed, while 7 is still to come.) A registration
    appends after inserting its user and locking its Idempotency-Key, and then writes only that
    key's record: the tail lock's holder never waits for a writer that waits for the tail, so
    writers cannot deadlock over it.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def append(self, event: UserRegistered, recorded_at: datetime) -> int:
        """Insert ``event`` at the next position; return the position."""
        lock_until_commit(self._connection, OUTBOX_TAIL_LOCK)
        return int(self._connection.execute(APPEND_EVENT, event_values(event, recorded_at)).scalar_one())

    def read_after(self, position: int, limit: int) -> Sequence[StoredEvent]:
        """Up to ``limit`` events after ``position``, in position order."""
        rows = self._connection.execute(EVENTS_AFTER, {"after": position, "limit": limit})
        return [event_from_row(row._mapping) for row in rows]

    def head(self) -> int:
        """The newest position, 0 if the outbox is empty."""
        return int(self._connection.execute(HEAD).scalar_one())


class PreparedEventFeed:
    """The outbox read by position outside any unit of work, a statement a read (see
    :class:`PreparedRead`): what db's event stream reads for every batch it sends.

    A read of one statement sees committed events only, and positions are given in commit order
    (:class:`SqlAlchemyOutbox`), so a reader resuming after N never skips one; the head, read by
    a second statement, may be newer than the events read before it, never older.
    """

    def __init__(self, engine: Engine) -> None:
        self._connections = ThreadConnections(engine)
        self._events_after = PreparedRead(self._connections, EVENTS_AFTER, WRITE_STORE)
        self._head = PreparedRead(self._connections, HEAD, WRITE_STORE)

    def read_after(self, position: int, limit: int) -> Sequence[StoredEvent]:
        """Up to ``limit`` events after ``position``, in position order."""
        return [event_from_row(row) for row in self._events_after.all({"after": position, "limit": limit})]

    def head(self) -> int:
        """The newest position, 0 if the outbox is empty."""
        row = self._head.first({})
        return int(row["head"]) if row else 0

    def close(self) -> None:
        """Close the connections the reads keep (the engine's pool is the caller's)."""
        self._connections.close()


class SqlAlchemyIdempotencyKeys:
    """Idempotency-Key records.

    In a writing unit of work, what was read of a key must not change before the unit writes (a
    registration reads its key, then decides). On SQLite the write lock held since ``BEGIN
    IMMEDIATE`` sees to it; on PostgreSQL :meth:`get` first locks the key until the transaction
    ends, so that the same key's registrations follow one another while other keys go on.
    """

    def __init__(self, connection: Connection, *, for_writing: bool = False) -> None:
        self._connection = connection
        self._for_writing = for_writing

    def get(self, key: str) -> IdempotencyRecord | None:
        """The record of ``key``, if any."""
        if self._for_writing:
            lock_until_commit(self._connection, IDEMPOTENCY_KEY_LOCKS, idempotency_lock_key(key))
        row = self._connection.execute(KEY, {"key": key}).first()
        if row is None:
            return None
        return key_record_from_row(row._mapping)

    def add(self, record: IdempotencyRecord) -> None:
        """Insert the record of a key this transaction found unknown (and holds since :meth:`get`)."""
        self._connection.execute(
            ADD_KEY,
            {"key": record.key, "email_canonical": record.email_canonical, "user_id": record.user_id},
        )


"""Repositories over one SQLAlchemy connection (the unit of work's transaction)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from sportapp_core.adapters.sqlalchemy.engine import lock_until_commit
from sportapp_core.adapters.sqlalchemy.tables import idempotency_keys, outbox, users
from sportapp_core.domain import MAX_ID, EmailAddress, EmailTaken, NewUser, User, UserRegistered
from sportapp_core.services.ports import IdempotencyRecord, StoredEvent

# PostgreSQL advisory locks, shared by every client of the database. The outbox's tail is one
# 64-bit key; an Idempotency-Key is a pair of 32-bit keys (a key space of its own): this constant
# and a hash of the Idempotency-Key.
OUTBOX_TAIL_LOCK = 0x5350_4F52_5441_0001
IDEMPOTENCY_KEY_LOCKS = 0x5350_0002


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        email=row.email,
        email_canonical=row.email_canonical,
        password_hash=row.password_hash,
        created_at=row.created_at,
    )


class SqlAlchemyUserRepository:
    """Users in the ``users`` table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, new_user: NewUser, created_at: datetime) -> User:
        """Insert ``new_user``; the unique index turns a taken address into :class:`EmailTaken`."""
        values = {
            "email": new_user.email.value,
            "email_canonical": new_user.email.canonical,
            "password_hash": new_user.password_hash,
            "created_at": created_at,
        }
        try:
            # A savepoint keeps the transaction usable after the constraint fires (PostgreSQL
            # aborts the whole transaction otherwise).
            with self._connection.begin_nested():
                user_id = self._connection.execute(
                    insert(users).values(**values).returning(users.c.id)
                ).scalar_one()
        except IntegrityError as error:
            if _is_unique_email_violation(error):
                raise EmailTaken() from None
            raise
        return User(id=user_id, **values)  # type: ignore[arg-type]

    def get(self, user_id: int) -> User | None:
        """The user with ``user_id``, if any."""
        if not 1 <= user_id <= MAX_ID:
            return None  # no store holds such an id, and the driver would refuse to bind it
        row = self._connection.execute(select(users).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def get_by_email(self, email: EmailAddress) -> User | None:
        """The user registered under ``email``'s canonical form, if any."""
        row = self._connection.execute(
            select(users).where(users.c.email_canonical == email.canonical)
        ).first()
        return _user(row) if row else None

    def list(self, *, after: int | None, limit: int) -> Sequence[User]:
        """Up to ``limit`` users with ids above ``after``, in id order."""
        query = select(users).order_by(users.c.id).limit(limit)
        if after is not None:
            query = query.where(users.c.id > after)
        return [_user(row) for row in self._connection.execute(query)]

    def count(self) -> int:
        """How many users there are."""
        return int(self._connection.execute(select(func.count()).select_from(users)).scalar_one())


def _is_unique_email_violation(error: IntegrityError) -> bool:
    message = str(error.orig).lower()
    return "email_canonical" in message or "users_email_canonical_key" in message


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
        next_position = select(func.coalesce(func.max(outbox.c.position), 0) + 1).scalar_subquery()
        return int(
            self._connection.execute(
                insert(outbox)
                .values(
                    position=next_position,
                    name=event.name,
                    payload=json.dumps(event.to_payload(), separators=(",", ":")),
                    recorded_at=recorded_at,
                )
                .returning(outbox.c.position)
            ).scalar_one()
        )

    def read_after(self, position: int, limit: int) -> Sequence[StoredEvent]:
        """Up to ``limit`` events after ``position``, in position order."""
        rows = self._connection.execute(
            select(outbox).where(outbox.c.position > position).order_by(outbox.c.position).limit(limit)
        )
        return [
            StoredEvent(
                position=row.position,
                name=row.name,
                payload=json.loads(row.payload),
                recorded_at=row.recorded_at,
            )
            for row in rows
        ]

    def head(self) -> int:
        """The newest position, 0 if the outbox is empty."""
        newest = select(func.coalesce(func.max(outbox.c.position), 0))
        return int(self._connection.execute(newest).scalar_one())


class SqlAlchemyIdempotencyKeys:
    """Idempotency-Key records.

    In a writing unit of work, what was read of a key must not change before the unit writes
    (claims and records read a key, then decide). On SQLite the write lock held since
    ``BEGIN IMMEDIATE`` sees to it; on PostgreSQL :meth:`get` first locks the key until the
    transaction ends, so that the same key's claims and records follow one another while other
    keys go on.
    """

    def __init__(self, connection: Connection, *, for_writing: bool = False) -> None:
        self._connection = connection
        self._for_writing = for_writing

    def get(self, key: str) -> IdempotencyRecord | None:
        """The record of ``key``, if any."""
        if self._for_writing:
            lock_until_commit(self._connection, IDEMPOTENCY_KEY_LOCKS, _lock_key(key))
        row = self._connection.execute(
            select(idempotency_keys).where(idempotency_keys.c.key == key)
        ).first()
        if row is None:
            return None
        return IdempotencyRecord(
            key=row.key,
            email_canonical=row.email_canonical,
            owner=row.owner,
            expires_at=row.expires_at,
            user_id=row.user_id,
        )

    def put(self, record: IdempotencyRecord) -> None:
        """Insert or replace ``record`` (callers hold the key since :meth:`get`: delete+insert is atomic)."""
        self._connection.execute(delete(idempotency_keys).where(idempotency_keys.c.key == record.key))
        self._connection.execute(
            insert(idempotency_keys).values(
                key=record.key,
                email_canonical=record.email_canonical,
                owner=record.owner,
                expires_at=record.expires_at,
                user_id=record.user_id,
            )
        )

    def delete(self, key: str, owner: str) -> None:
        """Forget ``key`` if ``owner`` holds it and it has produced no user."""
        self._connection.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.key == key,
                idempotency_keys.c.owner == owner,
                idempotency_keys.c.user_id.is_(None),
            )
        )


def _lock_key(key: str) -> int:
    # A signed 32-bit hash: two keys that share it only wait for each other, never mix.
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big", signed=True)

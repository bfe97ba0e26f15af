"""Repositories over one SQLAlchemy connection (the unit of work's transaction)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from sportapp_core.adapters.sqlalchemy.tables import idempotency_keys, outbox, users
from sportapp_core.domain import MAX_ID, EmailAddress, EmailTaken, NewUser, User, UserRegistered
from sportapp_core.services.ports import IdempotencyRecord, StoredEvent


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
    """The outbox table, written with the state change and read by position."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def append(self, event: UserRegistered, recorded_at: datetime) -> int:
        """Insert ``event``; return its position."""
        return int(
            self._connection.execute(
                insert(outbox)
                .values(
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
    """Idempotency-Key records."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, key: str) -> IdempotencyRecord | None:
        """The record of ``key``, if any."""
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
        """Insert or replace ``record`` (callers hold the write lock, so delete+insert is atomic)."""
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

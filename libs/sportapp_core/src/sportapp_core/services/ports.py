"""Ports: what the use cases need from the outside world, as protocols the adapters implement."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol

from sportapp_core.domain import EmailAddress, NewUser, Password, User, UserRegistered


class Clock(Protocol):
    """Tells the time; faked in tests."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class PasswordHasher(Protocol):
    """One-way password hashing."""

    def hash(self, password: Password) -> str:
        """Hash ``password`` with a fresh salt."""
        ...

    def verify(self, password_hash: str, password: Password) -> bool:
        """Whether ``password`` is the one that produced ``password_hash``."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether ``password_hash`` was made with weaker parameters than the current ones."""
        ...


@dataclass(frozen=True, slots=True)
class Page:
    """One page of users in id order, with the cursor for the next one."""

    users: Sequence[User]
    total: int
    next_after: int | None


class UserRepository(Protocol):
    """The write side's users."""

    def add(self, new_user: NewUser, created_at: datetime) -> User:
        """Store a new user; raise :class:`EmailTaken` if the canonical address exists."""
        ...

    def get(self, user_id: int) -> User | None:
        """The user with ``user_id``, if any."""
        ...

    def get_by_email(self, email: EmailAddress) -> User | None:
        """The user registered under ``email`` (compared canonically), if any."""
        ...

    def list(self, *, after: int | None, limit: int) -> Sequence[User]:
        """Up to ``limit`` users with ids above ``after``, in id order (keyset pagination)."""
        ...

    def count(self) -> int:
        """How many users there are."""
        ...


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the outbox keeps it: its gap-free position and when it was committed."""

    position: int
    name: str
    payload: dict[str, object]
    recorded_at: datetime


class Outbox(Protocol):
    """Events written in the same transaction as the state they describe."""

    def append(self, event: UserRegistered, recorded_at: datetime) -> int:
        """Add ``event``; return its position."""
        ...


class EventFeed(Protocol):
    """The outbox read by position: ordered, resumable, without gaps."""

    def read_after(self, position: int, limit: int) -> Sequence[StoredEvent]:
        """Up to ``limit`` events with positions greater than ``position``, in order."""
        ...

    def head(self) -> int:
        """The position of the newest event (0 when there is none)."""
        ...


class ClaimState(enum.Enum):
    """What the store knew of an Idempotency-Key when it was claimed."""

    CLAIMED = "claimed"
    COMPLETED = "completed"
    IN_PROGRESS = "in-progress"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of claiming an Idempotency-Key; ``user`` is set when it is ``COMPLETED``."""

    state: ClaimState
    user: User | None = None


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A key, the address its first request was for, and how far that request got."""

    key: str
    email_canonical: str
    owner: str
    expires_at: datetime
    user_id: int | None


class IdempotencyKeys(Protocol):
    """Idempotency-Key records, written in the same transaction as the user they produced."""

    def get(self, key: str) -> IdempotencyRecord | None:
        """The record of ``key``, if any."""
        ...

    def put(self, record: IdempotencyRecord) -> None:
        """Insert or replace the record of ``record.key``."""
        ...

    def delete(self, key: str, owner: str) -> None:
        """Forget ``key`` if ``owner`` still holds it unfinished."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the write store: everything in it commits together or not at all."""

    @property
    def users(self) -> UserRepository:
        """The users, in this transaction."""
        ...

    @property
    def outbox(self) -> Outbox:
        """Where this transaction's events go."""
        ...

    @property
    def events(self) -> EventFeed:
        """The outbox, read by position."""
        ...

    @property
    def idempotency(self) -> IdempotencyKeys:
        """The Idempotency-Key records, in this transaction."""
        ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Make the transaction's writes durable."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work per use.

    ``for_writing``: the unit will write, and what it reads of an Idempotency-Key stays as read
    until it ends (SQLite takes its write lock up front; PostgreSQL locks the key it reads).
    """

    def __call__(self, *, for_writing: bool = False) -> UnitOfWork: ...


class RegistrationStore(Protocol):
    """Where registrations are recorded: the write store itself, or the db service in front of it."""

    def is_registered(self, email: EmailAddress) -> bool:
        """Whether ``email`` is taken (an advisory check: the store's constraint is what decides)."""
        ...

    def claim(self, key: str, email: EmailAddress, owner: str) -> Claim:
        """Reserve ``key`` for ``owner`` before the costly work, or tell what happened to it."""
        ...

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s unfinished claim on ``key`` (the request failed; a retry may run)."""
        ...

    def record(self, new_user: NewUser, key: str | None, owner: str) -> tuple[User, bool]:
        """Store ``new_user`` with its event (and ``key``'s result) atomically.

        Returns the user and whether it was already recorded under ``key`` (a replay).
        Raises :class:`EmailTaken` when another user holds the address.
        """
        ...

"""The write side's ports: hashing, the write store (users, outbox, Idempotency-Keys) in one unit of
work, and where a registration is recorded (the store itself, or the db service in front of it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol

from sportapp_core.domain import NewUser, Password, User, UserRegistered


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


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """An Idempotency-Key, the address its request was for, and the user it produced."""

    key: str
    email_canonical: str
    user_id: int


class IdempotencyKeys(Protocol):
    """Idempotency-Key records, written in the same transaction as the user they produced."""

    def get(self, key: str) -> IdempotencyRecord | None:
        """The record of ``key``, if any."""
        ...

    def add(self, record: IdempotencyRecord) -> None:
        """Insert the record of a key seen for the first time."""
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


@dataclass(frozen=True, slots=True)
class Recorded:
    """A registration as the store recorded it: the user, and whether its key had it already."""

    user: User
    replayed: bool


class RegistrationStore(Protocol):
    """Where registrations are recorded: the write store itself, or the db service in front of it."""

    def record(self, new_user: NewUser, key: str | None) -> Recorded:
        """Store ``new_user``, its ``UserRegistered`` event and ``key``'s record atomically.

        When ``key`` already produced a user for the same address, nothing is written and that
        user comes back as a replay. Raises :class:`EmailTaken` when another user holds the
        address and :class:`IdempotencyKeyReused` when ``key`` was used for another address.
        """
        ...

"""In-memory fakes of the core's ports, for unit tests (fakes over mocks, as cosmicpython does).

The unit of work copies the committed state when it opens and puts its copy back only on
``commit()``; leaving the ``with`` block without committing discards every write, as a rolled-back
transaction does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from types import TracebackType

from sportapp_core.domain import EmailAddress, EmailTaken, NewUser, Password, User, UserRegistered
from sportapp_core.ports import IdempotencyRecord, StoredEvent

FAKE_HASH_PREFIX = "fake$"
EPOCH = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime = EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("the fake clock tells aware time, as the real one does")
        self._now = start

    def now(self) -> datetime:
        """The current fake time (UTC)."""
        return self._now

    def advance(self, delta: timedelta | float) -> None:
        """Move the clock forward by ``delta`` (a timedelta or seconds)."""
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)


class FakeTimer:
    """A monotonic clock and a sleep that only advances it, for code that polls.

    ``at(t, action)`` runs ``action`` the first time a sleep brings the clock to ``t`` or later,
    the way another process's write lands while a reader waits.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._actions: list[tuple[float, Callable[[], None]]] = []

    def monotonic(self) -> float:
        """The current fake monotonic time, in seconds."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` and run the actions that fall due."""
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        self.sleeps.append(seconds)
        self.now += seconds
        due = [action for when, action in self._actions if when <= self.now]
        self._actions = [(when, action) for when, action in self._actions if when > self.now]
        for action in due:
            action()

    def at(self, when: float, action: Callable[[], None]) -> None:
        """Run ``action`` once the fake clock reaches ``when``."""
        self._actions.append((when, action))

    @property
    def slept(self) -> float:
        """How long the code under test slept in total."""
        return sum(self.sleeps)


class FakeHasher:
    """A fast, deterministic hasher; it never stores the plaintext verbatim."""

    def __init__(self) -> None:
        self.hashed = 0
        self.verified = 0

    def hash(self, password: Password) -> str:
        """``fake$`` and the SHA-256 of the password, in hex."""
        self.hashed += 1
        return FAKE_HASH_PREFIX + hashlib.sha256(password.reveal().encode("utf-8")).hexdigest()

    def verify(self, password_hash: str, password: Password) -> bool:
        """Whether ``password`` hashes to ``password_hash``."""
        self.verified += 1
        expected = FAKE_HASH_PREFIX + hashlib.sha256(password.reveal().encode("utf-8")).hexdigest()
        return password_hash == expected

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether ``password_hash`` was not made by this hasher."""
        return not password_hash.startswith(FAKE_HASH_PREFIX)


@dataclasses.dataclass
class FakeWriteStore:
    """The write store's committed state: users, outbox and Idempotency-Key records."""

    users: dict[int, User] = dataclasses.field(default_factory=dict)
    events: list[StoredEvent] = dataclasses.field(default_factory=list)
    keys: dict[str, IdempotencyRecord] = dataclasses.field(default_factory=dict)
    last_user_id: int = 0

    def copy(self) -> FakeWriteStore:
        """A copy a transaction can change without touching this one (the values are immutable)."""
        return FakeWriteStore(
            users=dict(self.users),
            events=list(self.events),
            keys=dict(self.keys),
            last_user_id=self.last_user_id,
        )


class FakeUserRepository:
    """Users in a :class:`FakeWriteStore`, with its unique canonical address."""

    def __init__(self, state: FakeWriteStore) -> None:
        self._state = state

    def add(self, new_user: NewUser, created_at: datetime) -> User:
        """Store ``new_user``; raise :class:`EmailTaken` if its canonical address is stored."""
        if any(user.email.canonical == new_user.email.canonical for user in self._state.users.values()):
            raise EmailTaken()
        self._state.last_user_id += 1
        user = User(
            id=self._state.last_user_id,
            email=new_user.email,
            password_hash=new_user.password_hash,
            created_at=created_at,
        )
        self._state.users[user.id] = user
        return user

    def get(self, user_id: int) -> User | None:
        """The user with ``user_id``, if any."""
        return self._state.users.get(user_id)

    def list(self, *, after: int | None, limit: int) -> Sequence[User]:
        """Up to ``limit`` users with ids above ``after``, in id order."""
        ids = sorted(user_id for user_id in self._state.users if after is None or user_id > after)
        return [self._state.users[user_id] for user_id in ids[:limit]]

    def count(self) -> int:
        """How many users there are."""
        return len(self._state.users)


class FakeEmailRegistry:
    """An :class:`~sportapp_core.services.queries.EmailRegistry` over a set of canonical addresses."""

    def __init__(self, *addresses: str) -> None:
        self.canonical = {EmailAddress.parse(address).canonical for address in addresses}

    def is_registered(self, email: EmailAddress) -> bool:
        """Whether ``email``'s canonical form is in the set."""
        return email.canonical in self.canonical


class FakeOutbox:
    """The outbox of a :class:`FakeWriteStore`, written and read by position."""

    def __init__(self, state: FakeWriteStore, append_error: Exception | None = None) -> None:
        self._state = state
        self._append_error = append_error

    def append(self, event: UserRegistered, recorded_at: datetime) -> int:
        """Add ``event`` at the next position (or fail, if the test asked for it)."""
        if self._append_error is not None:
            raise self._append_error
        position = self.head() + 1
        self._state.events.append(
            StoredEvent(
                position=position, name=event.name, payload=event.to_payload(), recorded_at=recorded_at
            )
        )
        return position

    def read_after(self, position: int, limit: int) -> Sequence[StoredEvent]:
        """Up to ``limit`` events after ``position``, in order."""
        return [event for event in self._state.events if event.position > position][:limit]

    def head(self) -> int:
        """The newest position, 0 when there is none."""
        return self._state.events[-1].position if self._state.events else 0


class FakeIdempotencyKeys:
    """Idempotency-Key records of a :class:`FakeWriteStore`."""

    def __init__(self, state: FakeWriteStore) -> None:
        self._state = state

    def get(self, key: str) -> IdempotencyRecord | None:
        """The record of ``key``, if any."""
        return self._state.keys.get(key)

    def add(self, record: IdempotencyRecord) -> None:
        """Insert the record of a new key (a key already there is a bug in the caller)."""
        if record.key in self._state.keys:
            raise AssertionError(f"Idempotency-Key {record.key!r} is already recorded")
        self._state.keys[record.key] = record


class FakeUnitOfWork:
    """A transaction over a :class:`FakeUnitOfWorkFactory`'s store: all of it commits, or none."""

    users: FakeUserRepository
    outbox: FakeOutbox
    events: FakeOutbox
    idempotency: FakeIdempotencyKeys

    def __init__(self, factory: FakeUnitOfWorkFactory, *, for_writing: bool) -> None:
        self._factory = factory
        self.for_writing = for_writing
        self._working: FakeWriteStore | None = None
        self.committed = False

    def __enter__(self) -> FakeUnitOfWork:
        if self._factory.unavailable is not None:
            raise self._factory.unavailable
        if self.for_writing:
            self._factory.write_lock.acquire()
        self._working = self._factory.state.copy()
        self.users = FakeUserRepository(self._working)
        self.outbox = self.events = FakeOutbox(self._working, self._factory.append_error)
        self.idempotency = FakeIdempotencyKeys(self._working)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Whatever was not committed is dropped with the working copy: that is the rollback.
        self._working = None
        if self.for_writing:
            self._factory.write_lock.release()

    def commit(self) -> None:
        """Make this transaction's writes the committed state."""
        if self._working is None:
            raise RuntimeError("commit outside of 'with'")
        self._factory.state = self._working.copy()
        self._factory.commits += 1
        self.committed = True


class FakeUnitOfWorkFactory:
    """Makes fake units of work over one shared in-memory store.

    Writing units hold a lock for their whole life, as ``BEGIN IMMEDIATE`` does on SQLite, so
    threads that use the fake do not lose each other's commits. ``unavailable`` makes every new
    unit fail on entry with that error; ``append_error`` makes every outbox append fail.
    """

    def __init__(self, state: FakeWriteStore | None = None) -> None:
        self.state = state or FakeWriteStore()
        self.write_lock = threading.Lock()
        self.commits = 0
        self.opened: list[FakeUnitOfWork] = []
        self.unavailable: Exception | None = None
        self.append_error: Exception | None = None

    def __call__(self, *, for_writing: bool = False) -> FakeUnitOfWork:
        uow = FakeUnitOfWork(self, for_writing=for_writing)
        self.opened.append(uow)
        return uow

    @property
    def feed(self) -> FakeEventFeed:
        """This store's outbox read outside units of work, as db's event stream reads it."""
        return FakeEventFeed(self)


class FakeEventFeed:
    """An :class:`~sportapp_core.ports.EventFeed` over a :class:`FakeUnitOfWorkFactory`'s
    store (the fake of ``PreparedEventFeed``): unavailable when the factory's units are."""

    def __init__(self, factory: FakeUnitOfWorkFactory) -> None:
        self._factory = factory

    def read_after(self, position: int, limit: int) -> Sequence[StoredEvent]:
        """Up to ``limit`` events after ``position``, in order."""
        self._raise_if_unavailable()
        return FakeOutbox(self._factory.state).read_after(position, limit)

    def head(self) -> int:
        """The newest position, 0 when there is none."""
        self._raise_if_unavailable()
        return FakeOutbox(self._factory.state).head()

    def _raise_if_unavailable(self) -> None:
        if self._factory.unavailable is not None:
            raise self._factory.unavailable

"""In-memory fakes of the projection's ports: the db service's feed, the read model, a clock."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from types import TracebackType

from sportapp_core.domain import EmailAddress, UserRegistered
from sportapp_core.ports import FeedBatch, StoredEvent, StoredPosition
from sportapp_core.services.errors import DependencyUnavailable

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class FakeFeed:
    """The db service's feed: events appended by the test, pulled by position; can be 'down'."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.events: list[StoredEvent] = []
        self.down = False
        self.pulls: list[int] = []
        # Runs once, after the batch is read and before it is handed over: lets a test interleave.
        self.before_answer: Callable[[], object] | None = None
        self._lock = threading.Lock()

    def register(self, raw_email: str) -> StoredEvent:
        """Record a ``UserRegistered`` event, as db's outbox would; user ids follow positions."""
        email = EmailAddress.parse(raw_email)
        with self._lock:
            position = len(self.events) + 1
            event = UserRegistered(
                user_id=position,
                email=email,
                registered_at=self.clock.now(),
            )
            stored = StoredEvent(position, event.name, event.to_payload(), self.clock.now())
            self.events.append(stored)
            return stored

    def append(self, name: str, payload: dict[str, object]) -> StoredEvent:
        """Record an event of any kind."""
        with self._lock:
            stored = StoredEvent(len(self.events) + 1, name, payload, self.clock.now())
            self.events.append(stored)
            return stored

    def read(self, *, after: int, limit: int, wait_s: float) -> FeedBatch:
        self.pulls.append(after)
        if self.down:
            raise DependencyUnavailable("db")
        with self._lock:
            batch = FeedBatch(events=list(self.events[after : after + limit]), head=len(self.events))
        if not batch.events and wait_s:
            time.sleep(wait_s)  # a quiet feed's wait, shortened: tests pass small waits
        hook, self.before_answer = self.before_answer, None
        if hook is not None:
            hook()
        return batch


class FakeTransaction:
    """Holds the model's write lock for its whole life, as ``BEGIN IMMEDIATE`` does; stages writes."""

    def __init__(self, model: FakeReadModel, name: str) -> None:
        self._model = model
        self._name = name
        self._position: tuple[int, datetime, float] | None = None
        self._users: dict[int, UserRegistered] = {}

    def __enter__(self) -> FakeTransaction:
        self._model.write_lock.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._position = None
        self._users = {}
        self._model.write_lock.release()

    def advance(self, *, expected: int, to: int, at: datetime, lag_ms: float) -> bool:
        if self._model.positions[self._name].position != expected:
            return False
        self._position = (to, at, lag_ms)
        return True

    def add_users(self, events: Sequence[UserRegistered], projected_at: datetime) -> int:
        if self._model.fail_on_add is not None:
            error, self._model.fail_on_add = self._model.fail_on_add, None
            raise error
        added = 0
        for event in events:
            if event.user_id not in self._model.users and event.user_id not in self._users:
                self._users[event.user_id] = event
                added += 1
        return added

    def commit(self) -> None:
        if self._position is not None:
            to, at, lag_ms = self._position
            self._model.positions[self._name] = StoredPosition(to, at, lag_ms)
        self._model.users.update(self._users)
        self._model.applied.update(self._users.keys())
        self._model.commits.append((self._position[0] if self._position else None, sorted(self._users)))
        self._position = None
        self._users = {}


class FakeReadModel:
    """The read model in memory: committed views, positions, and a log of what each commit wrote."""

    def __init__(self) -> None:
        self.write_lock = threading.Lock()
        self.positions: dict[str, StoredPosition] = {"users": StoredPosition(0)}
        self.users: dict[int, UserRegistered] = {}
        # How often each user id was added by a committed transaction: exactly once is the goal.
        self.applied: Counter[int] = Counter()
        self.commits: list[tuple[int | None, list[int]]] = []
        self.fail_on_add: BaseException | None = None
        self.position_reads = 0

    def position(self, name: str) -> StoredPosition:
        self.position_reads += 1
        return self.positions[name]

    def transaction(self, name: str) -> FakeTransaction:
        return FakeTransaction(self, name)


class StopAfter:
    """A stop signal that records the back-off waits; it stops the loop after ``waits`` waits or
    ``rounds`` rounds, whichever comes first, and calls ``on_wait(n)`` on the n-th wait."""

    def __init__(self, waits: int, rounds: int = 100, on_wait: Callable[[int], None] | None = None) -> None:
        self.delays: list[float] = []
        self.rounds = 0
        self._waits = waits
        self._max_rounds = rounds
        self._on_wait = on_wait

    def is_set(self) -> bool:
        self.rounds += 1
        return len(self.delays) >= self._waits or self.rounds > self._max_rounds

    def wait(self, timeout: float | None = None) -> bool:
        self.delays.append(timeout or 0.0)
        if self._on_wait is not None:
            self._on_wait(len(self.delays))
        return len(self.delays) >= self._waits

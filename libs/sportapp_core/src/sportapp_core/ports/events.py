"""How events travel from the write side to the read side: the feed read by position, the signal
that wakes its readers, and the transport the relay publishes to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sportapp_core.ports.write_side import StoredEvent


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """Events after a position, and the newest position when they were read."""

    events: Sequence[StoredEvent]
    head: int


class EventSignal(Protocol):
    """Tells waiting readers that a writer of this process committed events."""

    @property
    def generation(self) -> int:
        """A number that changes every time events are committed."""
        ...

    def wait(self, since: int, timeout_s: float) -> None:
        """Return once :attr:`generation` differs from ``since``, or after ``timeout_s``."""
        ...

    @property
    def closed(self) -> bool:
        """True once the process stops: readers stop waiting, followers end their streams."""
        ...


class EventSource(Protocol):
    """The write side's events by position (the db service's feed)."""

    def read(self, *, after: int, limit: int, wait_s: float) -> FeedBatch:
        """Up to ``limit`` events after ``after``; wait up to ``wait_s`` for one if there are none.

        Raise :class:`DependencyUnavailable` when the source does not answer.
        """
        ...


class EventPublisher(Protocol):
    """Where the relay publishes: an ordered log of events keyed by their outbox position."""

    def last_position(self) -> int:
        """The position of the newest event the transport holds (0 when it holds none)."""
        ...

    def publish(self, events: Sequence[StoredEvent]) -> int:
        """Append ``events`` (consecutive positions, in order); return the newest position held.

        Events the transport already holds are skipped, not appended twice.
        """
        ...

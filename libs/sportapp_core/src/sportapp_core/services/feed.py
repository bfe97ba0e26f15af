"""Reading the outbox as a feed, with a bounded long-poll for readers that are caught up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sportapp_core.services.ports import StoredEvent, UnitOfWorkFactory

# With no signal from the writers, a waiting reader looks at the outbox this often.
POLL_INTERVAL_S = 0.02
# With a signal, it still looks this often: writers in other processes do not signal it.
SIGNALLED_POLL_INTERVAL_S = 0.5


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


class NewEvents:
    """An :class:`EventSignal` between the threads of one process (a writer notifies, readers wait).

    A reader takes the generation *before* it reads the outbox and waits on it after: an event
    committed in between has already moved the generation, so the wait returns at once.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = 0

    @property
    def generation(self) -> int:
        """A number that changes every time :meth:`notify` is called."""
        return self._generation

    def notify(self) -> None:
        """Events were committed: wake every waiting reader."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def wait(self, since: int, timeout_s: float) -> None:
        """Return once the generation is no longer ``since``, or after ``timeout_s``."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation != since, timeout_s)


def read_feed(
    uow_factory: UnitOfWorkFactory,
    *,
    after: int,
    limit: int,
    wait_s: float = 0.0,
    signal: EventSignal | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> FeedBatch:
    """Up to ``limit`` events after ``after``; if there are none, wait up to ``wait_s`` for one.

    With a ``signal`` from this process's writers, a waiting reader sleeps until one commits (or,
    for writers elsewhere, until its next look at the outbox); without one, it polls the outbox:
    a primary-key range read every 20 ms.
    """
    deadline = monotonic() + wait_s
    while True:
        seen = signal.generation if signal is not None else 0
        with uow_factory() as uow:
            events = uow.events.read_after(after, limit)
            # Fewer events than asked for: the last of them was the newest when they were read.
            head = events[-1].position if 0 < len(events) < limit else uow.events.head()
        remaining = deadline - monotonic()
        if events or remaining <= 0:
            return FeedBatch(events=events, head=head)
        if signal is not None:
            signal.wait(seen, min(SIGNALLED_POLL_INTERVAL_S, remaining))
        else:
            sleep(min(POLL_INTERVAL_S, remaining))

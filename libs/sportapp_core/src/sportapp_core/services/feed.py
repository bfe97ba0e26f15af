"""Reading the outbox as a feed, with a bounded long-poll for readers that are caught up."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sportapp_core.services.ports import StoredEvent, UnitOfWorkFactory

POLL_INTERVAL_S = 0.02


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """Events after a position, and the newest position when they were read."""

    events: Sequence[StoredEvent]
    head: int


def read_feed(
    uow_factory: UnitOfWorkFactory,
    *,
    after: int,
    limit: int,
    wait_s: float = 0.0,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> FeedBatch:
    """Up to ``limit`` events after ``after``; if there are none, wait up to ``wait_s`` for one.

    The outbox is polled rather than signalled: writers may be other processes, and a primary-key
    range read every 20 ms costs little next to a registration.
    """
    deadline = monotonic() + wait_s
    while True:
        with uow_factory() as uow:
            events = uow.events.read_after(after, limit)
            head = uow.events.head()
        if events or monotonic() >= deadline:
            return FeedBatch(events=events, head=head)
        sleep(min(POLL_INTERVAL_S, max(0.0, deadline - monotonic())))

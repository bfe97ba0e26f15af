"""Reading the outbox as a feed: a page after a position, or the feed followed as events commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from sportapp_core.ports import EventFeed, EventSignal, FeedBatch

# With no signal from the writers, a waiting reader looks at the outbox this often.
POLL_INTERVAL_S = 0.02
# With a signal, it still looks this often: writers in other processes do not signal it.
SIGNALLED_POLL_INTERVAL_S = 0.5


class NewEvents:
    """An :class:`EventSignal` between the threads of one process (a writer notifies, readers wait).

    A reader takes the generation *before* it reads the outbox and waits on it after: an event
    committed in between has already moved the generation, so the wait returns at once.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = 0
        self._closed = False

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
            self._changed.wait_for(lambda: self._generation != since or self._closed, timeout_s)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """The process stops: wake every waiting reader, and keep them from waiting again, so that
        a follower's stream ends at once instead of holding the process's stop."""
        with self._changed:
            self._closed = True
            self._generation += 1
            self._changed.notify_all()


def read_feed(
    feed: EventFeed,
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
    batch, _ = _next_batch(
        feed, after=after, limit=limit, wait_s=wait_s, signal=signal, seen=None,
        monotonic=monotonic, sleep=sleep,
    )
    return batch


def _next_batch(
    feed: EventFeed,
    *,
    after: int,
    limit: int,
    wait_s: float,
    signal: EventSignal | None,
    seen: int | None,
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
) -> tuple[FeedBatch, int]:
    """:func:`read_feed`, and the signal's generation taken before the read that made the batch.

    ``seen`` is such a generation from the caller's last read, when that read reached the head:
    while the signal still shows it, nothing was committed here since, and the first look at the
    outbox waits for a commit (or the next poll) instead of reading it in vain.
    """
    deadline = monotonic() + wait_s
    while True:
        remaining = deadline - monotonic()
        if seen is not None and remaining > 0:
            if signal is None:
                sleep(min(POLL_INTERVAL_S, remaining))
            elif signal.generation == seen and not signal.closed:
                signal.wait(seen, min(SIGNALLED_POLL_INTERVAL_S, remaining))
        seen = signal.generation if signal is not None else 0
        events = feed.read_after(after, limit)
        # Fewer events than asked for: the last of them was the newest when they were read.
        head = events[-1].position if 0 < len(events) < limit else feed.head()
        if events or deadline - monotonic() <= 0 or (signal is not None and signal.closed):
            return FeedBatch(events=events, head=head), seen


def follow_feed(
    feed: EventFeed,
    *,
    after: int,
    limit: int,
    heartbeat_s: float,
    lasts_s: float,
    gather_s: float = 0.0,
    signal: EventSignal | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[FeedBatch]:
    """The feed after ``after``, followed: a batch as soon as events commit, an empty one (a
    heartbeat, with the head) after ``heartbeat_s`` without any, until ``lasts_s`` have passed.

    The first batch comes at once, even empty, so a reader learns the head when it starts; a
    failing store raises :class:`DependencyUnavailable` there, before anything was sent. One
    follower replaces a long-poll per batch: a reader that keeps up pays for the events, not for a
    request each. The reader opens it again from its position after the end.

    After a batch of events that reached the head, the next is read ``gather_s`` later at the
    earliest: the events committed meanwhile travel together. A batch costs both sides the same
    whatever it holds (a read of the outbox and a line here; a parse and a transaction in the
    reader), so under a steady stream of registrations the feed's cost per event falls with the
    batch, for at most ``gather_s`` more lag; an event after a quiet spell still goes at once, and
    a reader catching up (batches at the limit) is never held.
    """
    ends = monotonic() + lasts_s
    position, wait_s = after, 0.0
    caught_up: int | None = None
    while True:
        batch, seen = _next_batch(
            feed, after=position, limit=limit, wait_s=wait_s, signal=signal, seen=caught_up,
            monotonic=monotonic, sleep=sleep,
        )
        yield batch
        # A batch short of the limit reached the head: the next read waits for a commit first
        # (and, after events, for the gathering); a full one leaves more to read at once.
        reached_head = len(batch.events) < limit
        if batch.events:
            position = batch.events[-1].position
            if gather_s > 0 and reached_head:
                sleep(gather_s)
        caught_up = seen if signal is not None and reached_head else None
        remaining = ends - monotonic()
        if remaining <= 0 or (signal is not None and signal.closed):
            return
        wait_s = min(heartbeat_s, remaining)

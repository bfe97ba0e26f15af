"""consulta's side: reading the stream through a consumer group, handing the projector a gap-free
run after its stored position, acknowledging what the read model holds."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis

from sportapp_core.adapters.redis_streams.codec import (
    REDIS,
    Entry,
    decode,
    entry_id,
    position_of,
    redis_errors,
)
from sportapp_core.ports import FeedBatch, StoredEvent
from sportapp_core.services.errors import DependencyUnavailable


class ReorderBuffer:
    """The entries delivered to one consumer, by position, until the read model is past them.

    Entries reach the consumers of a group in stream order, but each entry reaches one of them,
    and they commit in any order: a consumer may hold position p+2 while p+1 is with a peer. Only
    the gap-free run right after the stored position is handed to the projector; the rest waits
    here, unacknowledged, until the position reaches it (or a peer applied it: then it is dropped).
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[str, StoredEvent]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, stream_id: str, event: StoredEvent) -> None:
        """Hold ``event`` (a redelivery of a held position changes nothing)."""
        self._entries.setdefault(event.position, (stream_id, event))

    def holds(self, position: int) -> bool:
        """Whether the event at ``position`` is held."""
        return position in self._entries

    def settle(self, after: int) -> list[str]:
        """Drop what the read model already has (positions up to ``after``); their ids, to ack."""
        done = [position for position in self._entries if position <= after]
        return [self._entries.pop(position)[0] for position in sorted(done)]

    def run(self, after: int, limit: int) -> list[StoredEvent]:
        """Up to ``limit`` held events at ``after + 1``, ``after + 2``, ... stopping at a gap."""
        run: list[StoredEvent] = []
        position = after + 1
        while len(run) < limit and position in self._entries:
            run.append(self._entries[position][1])
            position += 1
        return run

    @property
    def newest(self) -> int:
        """The newest position held (0 when empty)."""
        return max(self._entries, default=0)


class RedisStreamSource:
    """consulta's side: an :class:`EventSource` over one consumer of a stream's consumer group.

    Each round acknowledges what the read model already holds, then collects entries in this
    order: its own pending ones (XREADGROUP from id 0, once after a start: what a previous life
    of this consumer read and never saw applied), entries idle for ``claim_min_idle_ms`` on
    another consumer (XAUTOCLAIM: a consumer that died holding them), then new ones (XREADGROUP
    ``>``). When the event right after the stored position stays out of reach for as long as
    ``claim_min_idle_ms`` (its consumer is deleted, or the group was made after this read model
    last saw the stream), it is read from the stream directly: the read model's compare-and-set
    makes a second delivery harmless, a missing one would stall the projection forever.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        stream: str,
        group: str,
        consumer: str,
        claim_min_idle_ms: int = 10_000,
        gap_poll_s: float = 0.05,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._stream = stream
        self._group = group
        self.consumer = consumer
        self._claim_min_idle_ms = claim_min_idle_ms
        # A consumer holding events beyond a gap re-reads the stored position this often: the
        # peer holding the missing event is about to commit it.
        self._gap_poll_s = gap_poll_s
        self._monotonic = monotonic
        self._buffer = ReorderBuffer()
        self._group_ready = False
        self._pending_recovered = False
        self._claim_cursor = "0-0"
        self._stalled: tuple[int, float] | None = None

    def read(self, *, after: int, limit: int, wait_s: float) -> FeedBatch:
        """Up to ``limit`` events right after ``after``, waiting up to ``wait_s`` for new ones."""
        try:
            with redis_errors():
                return self._read(after, limit, wait_s)
        except redis.ResponseError as error:
            if not str(error).startswith("NOGROUP"):
                raise
            # The stream went away (a Redis without persistence restarted): make the group again
            # next round; the relay publishes the outbox again from its start.
            self._group_ready = False
            raise DependencyUnavailable(REDIS) from error

    def _read(self, after: int, limit: int, wait_s: float) -> FeedBatch:
        self._ensure_group()
        if not self._pending_recovered:
            self._recover_pending()
            self._pending_recovered = True
        self._acknowledge(self._buffer.settle(after))
        top = self._top()
        if not self._buffer.holds(after + 1) and top > after:
            self._claim(limit)
            self._catch_up_if_stalled(after, limit)
        run = self._buffer.run(after, limit)
        if len(run) < limit:
            if run or self._buffer.holds(after + 1):
                block_s = 0.0
            elif len(self._buffer) or top > after:
                block_s = self._gap_poll_s
            else:
                block_s = wait_s
            self._read_new(limit - len(run), block_s)
            self._acknowledge(self._buffer.settle(after))
            run = self._buffer.run(after, limit)
        head = max(top, self._buffer.newest, after)
        return FeedBatch(events=run, head=head)

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            # From the stream's start: a new group must see every event the read model may lack.
            self._client.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if not str(error).startswith("BUSYGROUP"):
                raise
        self._group_ready = True
        self._pending_recovered = False

    def _recover_pending(self) -> None:
        start = "0"
        while True:
            answer = self._client.xreadgroup(
                self._group, self.consumer, {self._stream: start}, count=500
            )
            entries = _entries_of(answer)
            if not entries:
                return
            self._hold(entries)
            start = entries[-1][0]

    def _claim(self, limit: int) -> None:
        cursor, entries, *deleted = self._client.xautoclaim(
            self._stream,
            self._group,
            self.consumer,
            min_idle_time=self._claim_min_idle_ms,
            start_id=self._claim_cursor,
            count=limit,
        )
        self._claim_cursor = str(cursor)
        self._hold(entries)
        if deleted and deleted[0]:
            self._acknowledge(list(deleted[0]))

    def _catch_up_if_stalled(self, after: int, limit: int) -> None:
        if self._buffer.holds(after + 1):
            self._stalled = None
            return
        now = self._monotonic()
        if self._stalled is None or self._stalled[0] != after:
            self._stalled = (after, now)
            return
        if (now - self._stalled[1]) * 1000 < self._claim_min_idle_ms:
            return
        entries = self._client.xrange(self._stream, min=entry_id(after + 1), count=limit)
        self._hold(cast("list[Entry]", entries))
        self._stalled = None

    def _read_new(self, count: int, block_s: float) -> None:
        # BLOCK 0 would wait forever: no wait means no BLOCK at all.
        block_ms = int(block_s * 1000)
        answer = self._client.xreadgroup(
            self._group, self.consumer, {self._stream: ">"}, count=count, block=block_ms or None
        )
        self._hold(_entries_of(answer))

    def _top(self) -> int:
        newest = self._client.xrevrange(self._stream, count=1)
        return position_of(str(newest[0][0])) if newest else 0

    def _hold(self, entries: Sequence[Entry]) -> None:
        gone = []
        for stream_id, fields in entries:
            if fields:
                self._buffer.add(stream_id, decode(fields))
            else:
                gone.append(stream_id)  # deleted from the stream while pending: nothing to apply
        self._acknowledge(gone)

    def _acknowledge(self, stream_ids: Sequence[str]) -> None:
        if stream_ids:
            self._client.xack(self._stream, self._group, *stream_ids)

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()


def _entries_of(answer: Any) -> list[Entry]:
    # XREADGROUP answers [[stream, [(id, fields), ...]]] (RESP2, what :func:`connect` speaks).
    return [entry for _stream, entries in answer or [] for entry in entries]

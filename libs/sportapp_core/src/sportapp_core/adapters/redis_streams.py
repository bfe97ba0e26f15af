"""Redis Streams as the read side's event transport: the relay's publisher and consulta's source.

One stream entry per outbox event, with the entry id ``<position>-0``. Redis refuses an XADD whose
id is not above the stream's newest, so the stream can only ever hold a gap-free run of positions
in order, whoever publishes: a relay that restarts, or two relays at once, cannot append an event
twice or out of order (an XADD of a position the stream holds fails, and is skipped).

The stream is not trimmed: it holds one small entry per registration, as the outbox does, and
trimming could delete entries still pending for a consumer that is behind. (When it must be
bounded, ``XTRIM MINID`` up to the read model's stored position is the safe cut.)

consulta's processes read through one consumer group, each process one consumer. The read model's
stored position decides what is applied, exactly as with the HTTP feed: the projector asks for
the events after it, and this source hands over only a gap-free run that starts right after it.
An entry is acknowledged (XACK) only once the read model's position is at or past it, that is
after the transaction that applied it committed, whichever consumer applied it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

import redis

from sportapp_core.ports import FeedBatch, StoredEvent
from sportapp_core.services.errors import DependencyUnavailable

REDIS = "redis"
# A stream entry as the client gives it: its id and fields (None once deleted from the stream).
Entry = tuple[str, dict[str, str] | None]
_NO_KEY = "no such key"


def connect(url: str, *, read_timeout_s: float, connect_timeout_s: float = 1.0) -> redis.Redis:
    """A client of the server at ``url`` (``redis://host:port/db``); no connection is made yet.

    ``read_timeout_s`` must outlast the longest blocking read (XREADGROUP's BLOCK) made with it.
    """
    client: redis.Redis = redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=read_timeout_s,
        socket_connect_timeout=connect_timeout_s,
    )
    return client


@contextmanager
def redis_errors() -> Iterator[None]:
    """Turn the server's outages into :class:`DependencyUnavailable`: retried, not a bug."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise DependencyUnavailable(REDIS) from error


def entry_id(position: int) -> str:
    """The stream entry id of the event at ``position``."""
    return f"{position}-0"


def position_of(stream_id: str) -> int:
    """The outbox position an entry id (or a stream's last-generated-id) stands for."""
    return int(stream_id.split("-", 1)[0])


def encode(event: StoredEvent) -> dict[str, str]:
    """The entry's fields: the position travels in the payload too, not only in the id."""
    return {
        "position": str(event.position),
        "name": event.name,
        "payload": json.dumps(event.payload),
        "recorded_at": event.recorded_at.isoformat(),
    }


def decode(fields: dict[str, str]) -> StoredEvent:
    """The event an entry's fields describe."""
    payload: dict[str, object] = json.loads(fields["payload"])
    return StoredEvent(
        position=int(fields["position"]),
        name=fields["name"],
        payload=payload,
        recorded_at=datetime.fromisoformat(fields["recorded_at"]),
    )


# Appends a batch in position order, in one round trip, and never leaves a gap: an event the stream
# holds already is skipped; an event whose predecessor the stream does not hold, or an XADD Redis
# refuses (out of memory, say), ends the batch there, so nothing after it is appended. (A pipeline of
# plain XADDs would run the later ones after a failed one, and leave a hole no XADD could fill.)
# KEYS[1]: the stream. ARGV: per event, its position, its field count, then its fields and values.
# Returns {the newest position the stream holds, why the batch stopped early or ""}.
_APPEND_IN_ORDER = """
local stream = KEYS[1]
local newest = 0
if redis.call('EXISTS', stream) == 1 then
  local info = redis.call('XINFO', 'STREAM', stream)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then newest = tonumber(string.match(info[i + 1], '^%d+')) end
  end
end
local i = 1
while i <= #ARGV do
  local position = tonumber(ARGV[i])
  local count = tonumber(ARGV[i + 1])
  if position > newest + 1 then
    return {newest, 'gap: the stream holds up to ' .. newest .. ', the batch goes on at ' .. position}
  end
  if position == newest + 1 then
    local command = {'XADD', stream, position .. '-0'}
    for j = i + 2, i + 1 + 2 * count do command[#command + 1] = ARGV[j] end
    local answer = redis.pcall(unpack(command))
    if type(answer) == 'table' and answer.err then
      return {newest, 'refused at ' .. position .. ': ' .. answer.err}
    end
    newest = position
  end
  i = i + 2 + 2 * count
end
return {newest, ''}
"""


class StreamAppendStopped(DependencyUnavailable):
    """The stream took a batch only up to a point (Redis refused an entry, or the batch would have
    left a gap): what it holds is gap-free, and the relay resumes from its newest entry."""

    def __init__(self, newest: int, reason: str) -> None:
        super().__init__(REDIS)
        self.newest = newest
        self.reason = reason

    def __str__(self) -> str:
        return f"the stream holds events up to {self.newest}; {self.reason}"


class RedisStreamPublisher:
    """The relay's side: appends outbox events to one stream (an :class:`EventPublisher`)."""

    def __init__(self, client: redis.Redis, stream: str) -> None:
        self._client = client
        self._stream = stream
        self._append_in_order = client.register_script(_APPEND_IN_ORDER)

    def last_position(self) -> int:
        """The newest position the stream ever held (0 for a new or empty stream)."""
        with redis_errors():
            try:
                info: dict[str, Any] = self._client.xinfo_stream(self._stream)
            except redis.ResponseError as error:
                if _NO_KEY in str(error).lower():
                    return 0
                raise
        return position_of(str(info["last-generated-id"]))

    def publish(self, events: Sequence[StoredEvent]) -> int:
        """Append ``events`` in order, in one round trip (a script run atomically by Redis), skipping
        those the stream holds already (an earlier attempt whose answer was lost, or another
        relay); return the newest position held. Raises :class:`StreamAppendStopped` when the batch
        stopped early, after appending what came before the stop."""
        arguments: list[str | int] = []
        for event in events:
            fields = encode(event)
            arguments += [event.position, len(fields)]
            for name, value in fields.items():
                arguments += [name, value]
        with redis_errors():
            newest, stopped = self._append_in_order(keys=[self._stream], args=arguments)
        if stopped:
            raise StreamAppendStopped(int(newest), str(stopped))
        return int(newest)


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

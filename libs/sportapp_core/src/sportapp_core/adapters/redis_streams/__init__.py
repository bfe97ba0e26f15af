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

from sportapp_core.adapters.redis_streams.codec import connect, decode, encode, entry_id, position_of
from sportapp_core.adapters.redis_streams.publisher import RedisStreamPublisher, StreamAppendStopped
from sportapp_core.adapters.redis_streams.source import RedisStreamSource, ReorderBuffer

__all__ = [
    "RedisStreamPublisher",
    "RedisStreamSource",
    "ReorderBuffer",
    "StreamAppendStopped",
    "connect",
    "decode",
    "encode",
    "entry_id",
    "position_of",
]

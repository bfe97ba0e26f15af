"""What both sides of the stream share: the client, its errors, entry ids and the entry format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import redis

from sportapp_core.ports import StoredEvent
from sportapp_core.services.errors import DependencyUnavailable

REDIS = "redis"
# A stream entry as the client gives it: its id and fields (None once deleted from the stream).
Entry = tuple[str, dict[str, str] | None]
NO_SUCH_KEY = "no such key"


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



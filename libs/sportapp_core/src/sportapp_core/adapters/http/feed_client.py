"""The db service's event feed seen from consulta: an :class:`EventSource` that follows
``GET /user-db/events/stream``."""

from __future__ import annotations

import json

from marshmallow import ValidationError

from sportapp_core.adapters.http.db_client import DEPENDENCY, UnexpectedResponse
from sportapp_core.adapters.http.session import ServiceClient, ServiceStream, ServiceUnreachable
from sportapp_core.db_schemas import EVENT_STREAM_PATH, EventPageSchema
from sportapp_core.ports import FeedBatch, StoredEvent
from sportapp_core.services.errors import DependencyUnavailable

# Built once: building a schema costs more than loading one answer with it.
_EVENT_PAGE = EventPageSchema()


class DbServiceFeed:
    """Follows the db service's feed on one open stream, a batch per :meth:`read`.

    The stream is opened at the position asked for and kept while the reader asks for the
    position right after what it was given; asked for any other (a peer moved the projection,
    or after a failure), it is opened again there. db sends a batch as events commit and an
    empty one every ``wait_s`` without any, so a read that waits longer than that by
    ``read_margin_s`` means db is gone.

    Connection failures, timeouts and 5xx answers become :class:`DependencyUnavailable` for the
    projector to back off and retry; reading is side-effect free, so every retry is safe. An
    answer that breaks the contract is :class:`UnexpectedResponse`: a bug, not an outage.
    """

    def __init__(self, client: ServiceClient, *, read_margin_s: float = 5.0) -> None:
        self._client = client
        self._read_margin_s = read_margin_s
        self._stream: ServiceStream | None = None
        # The position the open stream's next batch follows.
        self._position = -1

    def read(self, *, after: int, limit: int, wait_s: float) -> FeedBatch:
        """The next batch after ``after`` (at most ``limit`` events), or an empty one after
        ``wait_s`` without any."""
        stream = self._stream
        if stream is None or after != self._position:
            stream = self._open(after=after, limit=limit, heartbeat_s=wait_s)
        try:
            line = stream.next_line()
            if line is None:  # db let this follower go (the stream's lifetime): follow again
                line = self._open(after=after, limit=limit, heartbeat_s=wait_s).next_line()
        except ServiceUnreachable as error:
            self._drop()
            raise DependencyUnavailable(DEPENDENCY) from error
        if line is None:
            self._drop()
            raise DependencyUnavailable(DEPENDENCY)
        batch = self._parse(line)
        if batch.events:
            self._position = batch.events[-1].position
        return batch

    def close(self) -> None:
        """Stop following and close the pooled connections."""
        self._drop()
        self._client.close()

    def _open(self, *, after: int, limit: int, heartbeat_s: float) -> ServiceStream:
        self._drop()
        params = {"after": after, "limit": limit, "heartbeat": max(heartbeat_s, 0.1)}
        try:
            stream = self._client.open_stream(
                EVENT_STREAM_PATH, params=params, read_timeout_s=heartbeat_s + self._read_margin_s
            )
        except ServiceUnreachable as error:
            raise DependencyUnavailable(DEPENDENCY) from error
        if stream.status != 200:
            try:
                body = stream.body()
            except ServiceUnreachable:
                body = b""
            if stream.status >= 500:
                raise DependencyUnavailable(DEPENDENCY)
            raise UnexpectedResponse(
                f"db answered {stream.status} on its feed: {body[:200].decode(errors='replace')}"
            )
        self._stream, self._position = stream, after
        return stream

    def _drop(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream, self._position = None, -1

    def _parse(self, line: bytes) -> FeedBatch:
        try:
            page = _EVENT_PAGE.load(json.loads(line))
        except (ValueError, ValidationError) as error:
            self._drop()
            raise UnexpectedResponse(f"db's feed sent malformed data: {error}") from None
        events = [
            StoredEvent(
                position=event["position"],
                name=event["name"],
                payload=event["payload"],
                recorded_at=event["recorded_at"],
            )
            for event in page["events"]
        ]
        return FeedBatch(events=events, head=page["head"])

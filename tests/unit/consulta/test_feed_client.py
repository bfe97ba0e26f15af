"""The db service's feed client over a fake HTTP client: one stream followed, parsing, outages."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import pytest

from sportapp_core.adapters.http.db_client import UnexpectedResponse
from sportapp_core.adapters.http.feed_client import DbServiceFeed
from sportapp_core.adapters.http.session import ServiceClient, ServiceStream, ServiceUnreachable
from sportapp_core.services.errors import DependencyUnavailable


def event(position: int) -> dict[str, Any]:
    return {
        "position": position,
        "name": "UserRegistered",
        "payload": {"user_id": position, "email": f"user{position}@example.com"},
        "recorded_at": "2025-01-01T00:00:00+00:00",
    }


def line(*positions: int, head: int) -> bytes:
    return json.dumps({"events": [event(p) for p in positions], "head": head}).encode() + b"\n"


class FakeStream(ServiceStream):
    """Hands out canned lines (or raises a canned error in their place), then ends."""

    def __init__(self, status: int, lines: Iterable[bytes | Exception], body: bytes = b"") -> None:
        self.status = status
        self._canned = list(lines)
        self._body = body
        self.closed = False

    def body(self) -> bytes:
        return self._body

    def next_line(self) -> bytes | None:
        if not self._canned:
            return None
        item = self._canned.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        self.closed = True


class FakeClient(ServiceClient):
    """Opens the canned streams in turn (or raises a canned error); records every opening."""

    def __init__(self, *streams: FakeStream | Exception) -> None:
        super().__init__("http://db.test")
        self.openings: list[dict[str, Any]] = []
        self._streams = list(streams)

    def open_stream(self, path: str, **kwargs: Any) -> ServiceStream:
        self.openings.append({"path": path, **kwargs})
        item = self._streams.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def test_a_line_becomes_stored_events_and_the_head() -> None:
    feed = DbServiceFeed(FakeClient(FakeStream(200, [line(7, head=9)])))

    batch = feed.read(after=6, limit=50, wait_s=2.0)

    assert batch.head == 9
    [stored] = batch.events
    assert (stored.position, stored.name, stored.payload["user_id"]) == (7, "UserRegistered", 7)
    assert stored.recorded_at == datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_the_stream_is_opened_at_the_position_with_the_wait_as_heartbeat_and_outwaits_it() -> None:
    client = FakeClient(FakeStream(200, [line(head=0)]))

    DbServiceFeed(client).read(after=6, limit=50, wait_s=2.0)

    [opening] = client.openings
    assert opening["path"] == "/user-db/events/stream"
    assert opening["params"] == {"after": 6, "limit": 50, "heartbeat": 2.0}
    assert opening["read_timeout_s"] > 2.0


def test_a_reader_that_keeps_up_reads_one_stream() -> None:
    client = FakeClient(FakeStream(200, [line(head=0), line(1, 2, head=2), line(head=2), line(3, head=3)]))
    feed = DbServiceFeed(client)

    reads = [feed.read(after=after, limit=10, wait_s=5.0) for after in (0, 0, 2, 2)]

    assert [[e.position for e in batch.events] for batch in reads] == [[], [1, 2], [], [3]]
    assert len(client.openings) == 1


def test_asked_for_another_position_the_stream_is_opened_again_there() -> None:
    first = FakeStream(200, [line(1, head=1), line(2, head=2)])
    client = FakeClient(first, FakeStream(200, [line(6, head=6)]))
    feed = DbServiceFeed(client)

    feed.read(after=0, limit=10, wait_s=5.0)
    batch = feed.read(after=5, limit=10, wait_s=5.0)  # a peer moved the projection to 5

    assert [e.position for e in batch.events] == [6]
    assert [o["params"]["after"] for o in client.openings] == [0, 5]
    assert first.closed


def test_a_stream_that_db_ended_is_followed_again_from_the_position() -> None:
    client = FakeClient(FakeStream(200, [line(1, head=1)]), FakeStream(200, [line(2, head=2)]))
    feed = DbServiceFeed(client)

    feed.read(after=0, limit=10, wait_s=5.0)
    batch = feed.read(after=1, limit=10, wait_s=5.0)

    assert [e.position for e in batch.events] == [2]
    assert [o["params"]["after"] for o in client.openings] == [0, 1]


@pytest.mark.parametrize(
    "client",
    [
        FakeClient(ServiceUnreachable("connection")),
        FakeClient(ServiceUnreachable("timeout")),
        FakeClient(FakeStream(503, [], body=b'{"status": 503}')),
        FakeClient(FakeStream(500, [], body=b"boom")),
        FakeClient(FakeStream(200, [ServiceUnreachable("timeout")])),
        FakeClient(FakeStream(200, []), FakeStream(200, [])),
    ],
    ids=["refused", "timeout", "503", "500", "silent", "ended-twice-at-once"],
)
def test_outages_are_the_db_being_unavailable(client: FakeClient) -> None:
    with pytest.raises(DependencyUnavailable) as raised:
        DbServiceFeed(client).read(after=0, limit=1, wait_s=0.0)

    assert raised.value.dependency == "db"


def test_after_a_cut_stream_the_next_read_opens_a_new_one() -> None:
    cut = FakeStream(200, [line(1, head=1), ServiceUnreachable("connection")])
    client = FakeClient(cut, FakeStream(200, [line(2, head=2)]))
    feed = DbServiceFeed(client)
    feed.read(after=0, limit=10, wait_s=5.0)

    with pytest.raises(DependencyUnavailable):
        feed.read(after=1, limit=10, wait_s=5.0)
    batch = feed.read(after=1, limit=10, wait_s=5.0)

    assert [e.position for e in batch.events] == [2]
    assert cut.closed


@pytest.mark.parametrize(
    "client",
    [
        FakeClient(FakeStream(422, [], body=b'{"errors": {"after": ["Must be >= 0."]}}')),
        FakeClient(FakeStream(200, [b"not json\n"])),
        FakeClient(FakeStream(200, [b'{"events": [{"position": "x"}], "head": 1}\n'])),
    ],
    ids=["422", "not-json", "bad-event"],
)
def test_answers_outside_the_contract_are_bugs_not_outages(client: FakeClient) -> None:
    with pytest.raises(UnexpectedResponse):
        DbServiceFeed(client).read(after=0, limit=1, wait_s=0.0)

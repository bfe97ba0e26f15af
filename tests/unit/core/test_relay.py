"""The outbox relay and the consumer's reorder buffer, with in-memory fakes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timezone

import pytest

from sportapp_core.adapters.redis_streams import ReorderBuffer, decode, encode, entry_id, position_of
from sportapp_core.ports import StoredEvent
from sportapp_core.services.relay import Relay, RelaySettings
from tests.fakes import FakeUnitOfWorkFactory, FakeWriteStore

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def event(position: int) -> StoredEvent:
    return StoredEvent(position, "UserRegistered", {"user_id": position}, T0)


class FakeStream:
    """An ordered log that, like a Redis stream with ids from positions, refuses what it holds."""

    def __init__(self) -> None:
        self.events: list[StoredEvent] = []
        self.down = False
        # After this many appends, the next publish fails halfway (the relay dies mid-batch).
        self.fail_after: int | None = None

    def last_position(self) -> int:
        if self.down:
            raise ConnectionError("stream down")
        return self.events[-1].position if self.events else 0

    def publish(self, events: Sequence[StoredEvent]) -> int:
        for item in events:
            if self.fail_after is not None and len(self.events) >= self.fail_after:
                self.fail_after = None
                raise ConnectionError("lost mid-batch")
            if item.position > self.last_position():
                self.events.append(item)
        return self.last_position()


def store_with(count: int) -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory(FakeWriteStore(events=[event(p) for p in range(1, count + 1)]))


def add_events(factory: FakeUnitOfWorkFactory, count: int) -> None:
    start = len(factory.state.events)
    factory.state.events.extend(event(p) for p in range(start + 1, start + count + 1))


def test_the_relay_publishes_the_outbox_in_order_in_batches() -> None:
    stream = FakeStream()
    relay = Relay(store_with(7).feed, stream, RelaySettings(batch_size=3, wait_s=0))

    counts = [relay.run_once() for _ in range(4)]

    assert counts == [3, 3, 1, 0]
    assert [e.position for e in stream.events] == list(range(1, 8))


def test_a_restarted_relay_resumes_from_what_the_stream_holds() -> None:
    factory, stream = store_with(5), FakeStream()
    Relay(factory.feed, stream, RelaySettings(wait_s=0)).run_once()
    add_events(factory, 4)

    restarted = Relay(factory.feed, stream, RelaySettings(wait_s=0))
    restarted.run_once()

    assert [e.position for e in stream.events] == list(range(1, 10))


def test_a_relay_that_failed_mid_batch_asks_the_stream_again_and_leaves_no_gap() -> None:
    factory, stream = store_with(6), FakeStream()
    relay = Relay(factory.feed, stream, RelaySettings(wait_s=0))
    stream.fail_after = 2

    with pytest.raises(ConnectionError):
        relay.run_once()
    assert relay.published is None
    relay.run_once()

    assert [e.position for e in stream.events] == list(range(1, 7))


def test_the_relay_retries_after_the_stream_was_down() -> None:
    factory, stream = store_with(2), FakeStream()
    relay = Relay(factory.feed, stream, RelaySettings(wait_s=0))
    stream.down = True
    with pytest.raises(ConnectionError):
        relay.run_once()
    stream.down = False

    assert relay.run_once() == 2


def test_an_entry_encodes_its_position_and_decodes_to_the_same_event() -> None:
    original = StoredEvent(42, "UserRegistered", {"user_id": 7, "email": "a@example.com"}, T0)

    fields = encode(original)

    assert fields["position"] == "42"
    assert decode(fields) == original
    assert position_of(entry_id(42)) == 42


def test_the_buffer_hands_over_only_the_run_right_after_the_position() -> None:
    buffer = ReorderBuffer()
    for position in (3, 4, 6):
        buffer.add(entry_id(position), event(position))

    assert buffer.run(after=1, limit=10) == []  # 2 is with a peer
    assert [e.position for e in buffer.run(after=2, limit=10)] == [3, 4]
    assert [e.position for e in buffer.run(after=2, limit=1)] == [3]


def test_the_buffer_drops_what_the_read_model_already_has_and_names_it_for_acking() -> None:
    buffer = ReorderBuffer()
    for position in (2, 3, 5):
        buffer.add(entry_id(position), event(position))
    buffer.add(entry_id(3), event(3))  # a redelivery

    assert buffer.settle(after=3) == ["2-0", "3-0"]
    assert len(buffer) == 1
    assert buffer.newest == 5
    assert buffer.settle(after=3) == []


class StreamBackAfterWaits(threading.Event):
    """A stop signal whose waits return at once (no real sleep); after ``waits`` of them, the
    stream is back."""

    def __init__(self, stream: FakeStream, waits: int) -> None:
        super().__init__()
        self.stream, self.left = stream, waits

    def wait(self, timeout: float | None = None) -> bool:
        self.left -= 1
        if self.left == 0:
            self.stream.down = False
        return self.is_set()


def test_a_relay_that_keeps_failing_says_so_every_round_then_says_it_resumed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    factory, stream = store_with(2), FakeStream()
    relay = Relay(factory.feed, stream, RelaySettings(wait_s=0))
    stream.down = True
    stopper = StreamBackAfterWaits(stream, waits=3)
    heartbeats: list[int] = []

    def heartbeat() -> None:  # the first round that works is the last one of this test
        heartbeats.append(1)
        stopper.set()

    with caplog.at_level("INFO", logger="sportapp_core.services.relay"):
        relay.run(stopper, heartbeat)

    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 3, "each failed round is logged, not only the first"
    assert failures[0].exc_info is not None
    assert [getattr(r, "consecutive_failures", None) for r in failures[1:]] == [2, 3]
    resumed = [r for r in caplog.records if r.getMessage() == "relay resumed"]
    assert [getattr(r, "after_failures", None) for r in resumed] == [3]
    assert heartbeats == [1], "no heartbeat while failing"
    assert [e.position for e in stream.events] == [1, 2]

"""Redis Streams as the event transport, on the real Redis server: the relay publishes the write
store's outbox, consumers of one group project it into a real read model, exactly once.

Each test has a stream and a group of its own (random names), deleted when it ends.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.engine import Engine

from sportapp_core.adapters.clock import SystemClock
from sportapp_core.adapters.redis_streams import (
    RedisStreamPublisher,
    RedisStreamSource,
    StreamAppendStopped,
    connect,
    position_of,
    publisher,
)
from sportapp_core.adapters.sqlalchemy import SqlAlchemyUnitOfWorkFactory, create_store_engine
from sportapp_core.adapters.sqlalchemy.migrations import READ_STORE_SCHEMA, upgrade_schema
from sportapp_core.adapters.sqlalchemy.read_model import SqlAlchemyReadModel, user_views
from sportapp_core.adapters.sqlalchemy.repositories import PreparedEventFeed
from sportapp_core.adapters.sqlalchemy.tables import users
from sportapp_core.domain import EmailAddress, NewUser
from sportapp_core.ports import StoredEvent
from sportapp_core.services import WriteStoreRegistrations
from sportapp_core.services.projection import USERS_PROJECTION, ProjectionSettings, Projector
from sportapp_core.services.relay import Relay, RelaySettings

pytestmark = pytest.mark.integration


@dataclass
class Streams:
    """A test's own stream and consumer group on the shared server."""

    url: str
    client: redis.Redis
    stream: str
    group: str
    # Every feed a relay of this test reads; closed with the test (each keeps its connection).
    feeds: list[PreparedEventFeed] = field(default_factory=list)

    def source(self, consumer: str, *, min_idle_ms: int = 60_000) -> RedisStreamSource:
        return RedisStreamSource(
            connect(self.url, read_timeout_s=5),
            stream=self.stream,
            group=self.group,
            consumer=consumer,
            claim_min_idle_ms=min_idle_ms,
        )

    def relay(self, uow_factory: SqlAlchemyUnitOfWorkFactory, batch_size: int = 500) -> Relay:
        publisher = RedisStreamPublisher(connect(self.url, read_timeout_s=5), self.stream)
        settings = RelaySettings(batch_size=batch_size, wait_s=0)
        feed = PreparedEventFeed(uow_factory.engine)
        self.feeds.append(feed)
        return Relay(feed, publisher, settings)

    def positions(self) -> list[int]:
        return [int(fields["position"]) for _id, fields in self.client.xrange(self.stream)]

    def pending(self) -> dict[str, int]:
        """Unacknowledged entries, by consumer."""
        return {
            consumer["name"]: int(consumer["pending"])
            for consumer in self.client.xinfo_consumers(self.stream, self.group)
            if int(consumer["pending"])
        }


@pytest.fixture
def streams(redis_url: str) -> Iterator[Streams]:
    suffix = uuid.uuid4().hex[:12]
    client = connect(redis_url, read_timeout_s=5)
    found = Streams(redis_url, client, f"sportapp-test:{suffix}:events", f"consulta-{suffix}")
    try:
        yield found
    finally:
        for feed in found.feeds:
            feed.close()
        client.delete(found.stream)
        client.close()


@pytest.fixture
def read_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'read' / 'consulta.db'}")
    upgrade_schema(engine, READ_STORE_SCHEMA)
    yield engine
    engine.dispose()


def register(uow_factory: SqlAlchemyUnitOfWorkFactory, count: int, start: int = 0) -> None:
    registrations = WriteStoreRegistrations(uow_factory, SystemClock())
    for number in range(start, start + count):
        new_user = NewUser(email=EmailAddress.parse(f"user{number}@example.com"), password_hash="x")
        registrations.record(new_user, None)


def projector(read_engine: Engine, source: RedisStreamSource, batch_size: int = 100) -> Projector:
    settings = ProjectionSettings(batch_size=batch_size, wait_s=0.05)
    return Projector(SqlAlchemyReadModel(read_engine), source, SystemClock(), settings=settings)


def position(read_engine: Engine) -> int:
    return SqlAlchemyReadModel(read_engine).position(USERS_PROJECTION).position


def project_until(read_engine: Engine, projectors: list[Projector], head: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while position(read_engine) < head:
        assert time.monotonic() < deadline, f"stuck at {position(read_engine)} of {head}"
        for each in projectors:
            each.run_once()


def assert_read_model_equals_write_store(read_engine: Engine, write_engine: Engine) -> None:
    with write_engine.connect() as connection:
        written = sorted(connection.execute(select(users.c.id, users.c.email_canonical)).all())
    with read_engine.connect() as connection:
        shown = sorted(connection.execute(select(user_views.c.id, user_views.c.email_canonical)).all())
    assert shown == written
    assert position(read_engine) == len(written)


def test_the_relay_publishes_in_order_and_resumes_after_a_restart_without_gaps_or_duplicates(
    streams: Streams, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    register(uow_factory, 7)
    first = streams.relay(uow_factory, batch_size=3)
    while first.run_once():
        pass
    assert streams.positions() == list(range(1, 8))
    entry_ids = [entry_id for entry_id, _fields in streams.client.xrange(streams.stream)]
    assert [position_of(entry_id) for entry_id in entry_ids] == list(range(1, 8))

    register(uow_factory, 5, start=7)
    # A second relay (a restart, or one started twice) resumes from the stream's newest entry.
    restarted, twin = streams.relay(uow_factory, batch_size=2), streams.relay(uow_factory, batch_size=4)
    restarted.run_once()
    twin.run_once()
    while restarted.run_once() + twin.run_once():
        pass

    assert streams.positions() == list(range(1, 13))


def six_events_and_a_publisher(
    streams: Streams, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> tuple[list[StoredEvent], RedisStreamPublisher]:
    """Six registrations' events in the outbox, and a publisher to the test's stream."""
    register(uow_factory, 6)
    with uow_factory() as uow:
        events = uow.events.read_after(0, 10)
    return list(events), RedisStreamPublisher(streams.client, streams.stream)


def test_a_relay_that_died_mid_batch_leaves_no_gap_and_no_duplicate(
    streams: Streams, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    events, publisher = six_events_and_a_publisher(streams, uow_factory)
    # What a relay killed after part of its pipeline reached Redis leaves behind.
    publisher.publish(events[:4])

    streams.relay(uow_factory).run_once()
    # Publishing what the stream holds again changes nothing.
    assert publisher.publish(events) == 6

    assert streams.positions() == list(range(1, 7))


def test_a_batch_that_would_leave_a_gap_appends_only_what_comes_before_it(
    streams: Streams, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    events, publisher = six_events_and_a_publisher(streams, uow_factory)
    publisher.publish(events[:2])

    with pytest.raises(StreamAppendStopped, match="holds events up to 2; gap") as skipped_one:
        publisher.publish([events[3], events[4]])  # 3 is missing: nothing of this batch may go in
    with pytest.raises(StreamAppendStopped, match="holds events up to 3; gap") as skipped_later:
        publisher.publish([events[2], events[4]])  # 3 goes in, 5 may not

    assert (skipped_one.value.newest, skipped_later.value.newest) == (2, 3)
    assert streams.positions() == [1, 2, 3]
    streams.relay(uow_factory).run_once()  # the relay resumes from the newest entry: no hole left
    assert streams.positions() == list(range(1, 7))


def test_an_entry_redis_refuses_mid_batch_ends_the_batch_there(streams: Streams) -> None:
    # Through the publisher's own script, on the real server: the second entry has no fields, which
    # Redis refuses (as it would refuse any entry when out of memory); the third is valid.
    append = streams.client.register_script(publisher._APPEND_IN_ORDER)

    newest, stopped = append(
        keys=[streams.stream], args=[1, 1, "name", "first", 2, 0, 3, 1, "name", "third"]
    )

    assert newest == 1
    assert stopped.startswith("refused at 2: ")
    assert [entry_id for entry_id, _ in streams.client.xrange(streams.stream)] == ["1-0"]


def test_consumers_that_commit_in_the_opposite_order_apply_every_event_once(
    streams: Streams, uow_factory: SqlAlchemyUnitOfWorkFactory, read_engine: Engine
) -> None:
    register(uow_factory, 2)
    streams.relay(uow_factory).run_once()
    first, second = streams.source("first"), streams.source("second")
    projector_first, projector_second = projector(read_engine, first, 1), projector(read_engine, second, 1)
    # Position 1 goes to the first consumer, position 2 to the second (one entry per read).
    first.read(after=0, limit=1, wait_s=0)
    second.read(after=0, limit=1, wait_s=0)

    assert projector_second.run_once() == 0  # holds 2, but 1 is not applied yet: waits
    assert position(read_engine) == 0
    assert projector_first.run_once() == 1
    assert projector_second.run_once() == 1
    assert position(read_engine) == 2
    projector_first.run_once()
    projector_second.run_once()

    assert_read_model_equals_write_store(read_engine, uow_factory.engine)
    assert streams.pending() == {}


def test_a_consumer_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    streams: Streams, uow_factory: SqlAlchemyUnitOfWorkFactory, read_engine: Engine
) -> None:
    register(uow_factory, 20)
    streams.relay(uow_factory).run_once()
    # A consumer reads a batch, then dies before applying or acknowledging it.
    doomed = streams.source("doomed")
    assert len(doomed.read(after=0, limit=8, wait_s=0).events) == 8
    del doomed
    # More registrations, and a relay that restarts in between.
    register(uow_factory, 10, start=20)
    streams.relay(uow_factory, batch_size=4).run_once()
    register(uow_factory, 10, start=30)
    streams.relay(uow_factory, batch_size=4).run_once()
    while streams.relay(uow_factory, batch_size=4).run_once():
        pass
    live = [streams.source(f"live-{n}", min_idle_ms=300) for n in range(2)]
    projectors = [projector(read_engine, source, 5) for source in live]

    project_until(read_engine, projectors, head=40)
    for each in projectors:  # acknowledges the last batches
        each.run_once()

    assert_read_model_equals_write_store(read_engine, uow_factory.engine)
    assert streams.pending() == {}


def test_a_live_consumer_takes_over_the_entries_pending_on_a_dead_one(
    streams: Streams, uow_factory: SqlAlchemyUnitOfWorkFactory, read_engine: Engine
) -> None:
    register(uow_factory, 5)
    streams.relay(uow_factory).run_once()
    streams.source("dead").read(after=0, limit=5, wait_s=0)
    assert streams.pending() == {"dead": 5}
    heir = streams.source("heir", min_idle_ms=200)

    assert heir.read(after=0, limit=10, wait_s=0).events == []  # not idle long enough yet
    time.sleep(0.3)
    batch = heir.read(after=0, limit=10, wait_s=0)

    assert [event.position for event in batch.events] == [1, 2, 3, 4, 5]
    assert streams.pending() == {"heir": 5}
    projector(read_engine, heir).run_once()
    heir.read(after=position(read_engine), limit=10, wait_s=0)
    assert streams.pending() == {}
    assert_read_model_equals_write_store(read_engine, uow_factory.engine)


def test_a_restarted_consumer_reads_its_own_pending_entries_first(
    streams: Streams, uow_factory: SqlAlchemyUnitOfWorkFactory, read_engine: Engine
) -> None:
    register(uow_factory, 3)
    streams.relay(uow_factory).run_once()
    streams.source("consulta-1").read(after=0, limit=3, wait_s=0)

    # Same name after a restart: its own pending entries come back at once, without waiting.
    restarted = streams.source("consulta-1")
    projector(read_engine, restarted).run_once()

    assert position(read_engine) == 3
    restarted.read(after=3, limit=10, wait_s=0)
    assert streams.pending() == {}


def test_the_read_model_catches_up_even_when_the_group_acknowledged_what_it_lacks(
    streams: Streams, uow_factory: SqlAlchemyUnitOfWorkFactory, read_engine: Engine
) -> None:
    # A read model that is new to a group that already consumed the stream (another read store).
    register(uow_factory, 4)
    streams.relay(uow_factory).run_once()
    other = streams.source("other")
    other.read(after=0, limit=10, wait_s=0)
    other.read(after=4, limit=10, wait_s=0)
    assert streams.pending() == {}
    source = streams.source("new", min_idle_ms=200)
    each = projector(read_engine, source)

    project_until(read_engine, [each], head=4, timeout_s=5)

    assert_read_model_equals_write_store(read_engine, uow_factory.engine)

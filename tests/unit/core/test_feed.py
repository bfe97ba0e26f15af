"""read_feed and follow_feed: the outbox by position, waited for and followed on a fake clock (no real
sleeping)."""

from __future__ import annotations

import threading
import time

import pytest

from sportapp_core.domain import EmailAddress, NewUser, UserRegistered
from sportapp_core.ports import EventFeed, StoredEvent
from sportapp_core.services import WriteStoreRegistrations
from sportapp_core.services.feed import (
    POLL_INTERVAL_S,
    SIGNALLED_POLL_INTERVAL_S,
    NewEvents,
    follow_feed,
    read_feed,
)
from tests.fakes import EPOCH, FakeClock, FakeTimer, FakeUnitOfWorkFactory


@pytest.fixture
def uow_factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


@pytest.fixture
def store(uow_factory: FakeUnitOfWorkFactory) -> WriteStoreRegistrations:
    return WriteStoreRegistrations(uow_factory, FakeClock())


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer()


def register(store: WriteStoreRegistrations, name: str) -> None:
    store.record(NewUser(EmailAddress.parse(f"{name}@example.com"), "fake$x"), None)


def test_events_after_a_position_come_in_order_with_the_head(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    for name in ("ana", "bea", "carla", "dora", "eva"):
        register(store, name)

    batch = read_feed(uow_factory.feed, after=1, limit=2, monotonic=timer.monotonic, sleep=timer.sleep)

    assert [event.position for event in batch.events] == [2, 3]
    assert [event.payload["email"] for event in batch.events] == ["bea@example.com", "carla@example.com"]
    assert batch.head == 5


def test_available_events_are_returned_without_waiting(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    register(store, "ana")

    batch = read_feed(
        uow_factory.feed, after=0, limit=10, wait_s=5.0, monotonic=timer.monotonic, sleep=timer.sleep
    )

    assert [event.position for event in batch.events] == [1]
    assert timer.sleeps == []


def test_caught_up_reader_without_wait_gets_an_empty_batch_at_once(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    register(store, "ana")

    batch = read_feed(uow_factory.feed, after=1, limit=10, monotonic=timer.monotonic, sleep=timer.sleep)

    assert (list(batch.events), batch.head) == ([], 1)
    assert timer.sleeps == []


def test_caught_up_reader_waits_no_longer_than_asked(
    uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    started = timer.monotonic()

    batch = read_feed(
        uow_factory.feed, after=0, limit=10, wait_s=1.5, monotonic=timer.monotonic, sleep=timer.sleep
    )

    assert (list(batch.events), batch.head) == ([], 0)
    assert timer.monotonic() - started == pytest.approx(1.5)
    assert max(timer.sleeps) <= POLL_INTERVAL_S, "polls often enough to answer early"


def test_long_poll_returns_as_soon_as_an_event_is_recorded(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    started = timer.monotonic()
    timer.at(started + 0.3, lambda: register(store, "ana"))

    batch = read_feed(
        uow_factory.feed, after=0, limit=10, wait_s=10.0, monotonic=timer.monotonic, sleep=timer.sleep
    )

    assert [event.payload["email"] for event in batch.events] == ["ana@example.com"]
    assert batch.head == 1
    assert timer.monotonic() - started == pytest.approx(0.3, abs=POLL_INTERVAL_S)


def test_long_poll_ignores_events_the_reader_already_has(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    register(store, "ana")
    started = timer.monotonic()
    timer.at(started + 0.5, lambda: register(store, "bea"))

    batch = read_feed(
        uow_factory.feed, after=1, limit=10, wait_s=2.0, monotonic=timer.monotonic, sleep=timer.sleep
    )

    assert [event.position for event in batch.events] == [2]
    assert timer.monotonic() - started == pytest.approx(0.5, abs=POLL_INTERVAL_S)


def test_feed_never_shows_an_event_whose_transaction_rolled_back(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    register(store, "ana")
    with uow_factory(for_writing=True) as uow:
        event = UserRegistered(2, EmailAddress.parse("bea@example.com"), EPOCH)
        assert uow.outbox.append(event, recorded_at=EPOCH) == 2

    batch = read_feed(uow_factory.feed, after=0, limit=10, monotonic=timer.monotonic, sleep=timer.sleep)

    assert [event.position for event in batch.events] == [1]
    assert batch.head == 1


class TimerSignal:
    """An event signal on the fake timer: a wait sleeps its timeout unless events came since."""

    def __init__(self, timer: FakeTimer) -> None:
        self.timer = timer
        self.generation = 0
        self.closed = False
        self.waits: list[float] = []

    def notify(self) -> None:
        self.generation += 1

    def wait(self, since: int, timeout_s: float) -> None:
        if self.generation == since:
            self.waits.append(timeout_s)
            self.timer.sleep(timeout_s)


def signalled_store(
    uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> tuple[TimerSignal, WriteStoreRegistrations]:
    """A store whose commits move a signal on the fake timer, as db's registrations do."""
    signal = TimerSignal(timer)
    return signal, WriteStoreRegistrations(uow_factory, FakeClock(), on_commit=signal.notify)


def test_with_a_signal_a_caught_up_reader_sleeps_until_told_not_on_a_poll(
    uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    signal, store = signalled_store(uow_factory, timer)
    timer.at(timer.monotonic() + 0.2, lambda: register(store, "ana"))

    batch = read_feed(
        uow_factory.feed, after=0, limit=10, wait_s=10.0, signal=signal,
        monotonic=timer.monotonic, sleep=timer.sleep,
    )

    assert [event.payload["email"] for event in batch.events] == ["ana@example.com"]
    assert timer.sleeps == [SIGNALLED_POLL_INTERVAL_S], "one wait, not a poll every 20 ms"
    assert signal.waits == [SIGNALLED_POLL_INTERVAL_S]


def test_an_event_committed_between_the_read_and_the_wait_is_not_missed(
    uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    signal, store = signalled_store(uow_factory, timer)

    class CommitJustBeforeTheWait:
        @property
        def generation(self) -> int:
            return signal.generation

        closed = False

        def wait(self, since: int, timeout_s: float) -> None:
            if not uow_factory.state.events:
                register(store, "ana")  # the reader found nothing; this lands before it waits
            signal.wait(since, timeout_s)

    batch = read_feed(
        uow_factory.feed, after=0, limit=10, wait_s=10.0, signal=CommitJustBeforeTheWait(),
        monotonic=timer.monotonic, sleep=timer.sleep,
    )

    assert [event.position for event in batch.events] == [1]
    assert signal.waits == [], "the generation had moved: no wait"
    assert timer.sleeps == []


def test_new_events_wake_a_waiting_thread_and_a_stale_wait_returns_at_once() -> None:
    new_events = NewEvents()
    seen = new_events.generation
    woke = threading.Event()

    def waiter() -> None:
        new_events.wait(seen, timeout_s=30.0)
        woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    new_events.notify()
    thread.join(timeout=10)

    assert woke.is_set()
    started = time.monotonic()
    new_events.wait(seen, timeout_s=30.0)  # the generation moved since: no wait at all
    assert time.monotonic() - started < 5.0


def test_a_follower_gets_the_head_at_once_then_each_event_as_it_commits(
    uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    signal, store = signalled_store(uow_factory, timer)
    register(store, "ana")
    started = timer.monotonic()
    timer.at(started + 0.3, lambda: register(store, "bea"))

    batches = follow_feed(
        uow_factory.feed, after=1, limit=10, heartbeat_s=5.0, lasts_s=60.0, signal=signal,
        monotonic=timer.monotonic, sleep=timer.sleep,
    )
    first, second = next(batches), next(batches)

    assert (list(first.events), first.head) == ([], 1), "caught up: told so without waiting"
    assert [event.payload["email"] for event in second.events] == ["bea@example.com"]
    assert second.head == 2
    assert timer.monotonic() - started < 1.0


def test_closing_the_signal_ends_a_waiting_follower_s_stream_at_once(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    # As db's worker does when it is told to stop: a follower must not hold the stop until its
    # next heartbeat, nor until its stream's lifetime.
    new_events = NewEvents()
    register(store, "ana")
    batches = follow_feed(
        uow_factory.feed, after=1, limit=10, heartbeat_s=30.0, lasts_s=300.0, signal=new_events
    )
    assert list(next(batches).events) == []
    ended = threading.Event()

    def follow_to_the_end() -> None:
        for _ in batches:
            pass
        ended.set()

    follower = threading.Thread(target=follow_to_the_end, daemon=True)
    follower.start()
    time.sleep(0.05)  # let it wait on the signal
    new_events.close()

    assert ended.wait(5.0), "the stream did not end when the signal closed"
    assert new_events.closed


def test_a_quiet_feed_sends_a_heartbeat_and_a_follower_resumes_after_what_it_was_sent(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    register(store, "ana")
    batches = follow_feed(
        uow_factory.feed, after=0, limit=10, heartbeat_s=2.0, lasts_s=60.0,
        monotonic=timer.monotonic, sleep=timer.sleep,
    )

    assert [event.position for event in next(batches).events] == [1]
    started = timer.monotonic()
    heartbeat = next(batches)
    assert (list(heartbeat.events), heartbeat.head) == ([], 1)
    assert timer.monotonic() - started == pytest.approx(2.0)
    register(store, "bea")
    assert [event.position for event in next(batches).events] == [2], "not ana again"


def test_a_follower_is_let_go_after_the_streams_lifetime(
    uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    started = timer.monotonic()

    batches = list(
        follow_feed(
            uow_factory.feed, after=0, limit=10, heartbeat_s=2.0, lasts_s=5.0,
            monotonic=timer.monotonic, sleep=timer.sleep,
        )
    )

    assert [len(batch.events) for batch in batches] == [0, 0, 0, 0], "the first, then 2 + 2 + 1 s"
    assert timer.monotonic() - started == pytest.approx(5.0)


class CountingFeed:
    """An event feed that counts how often the outbox is looked at (each read, each head)."""

    def __init__(self, feed: EventFeed) -> None:
        self.feed = feed
        self.looks = 0

    def read_after(self, position: int, limit: int) -> list[StoredEvent]:
        self.looks += 1
        return self.feed.read_after(position, limit)

    def head(self) -> int:
        self.looks += 1
        return self.feed.head()


def test_a_follower_that_reached_the_head_looks_at_the_outbox_again_only_once_told_of_a_commit(
    uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    signal, store = signalled_store(uow_factory, timer)
    register(store, "ana")
    feed = CountingFeed(uow_factory.feed)
    batches = follow_feed(
        feed, after=0, limit=10, heartbeat_s=5.0, lasts_s=60.0, signal=signal,
        monotonic=timer.monotonic, sleep=timer.sleep,
    )
    assert [event.position for event in next(batches).events] == [1]
    looks_for_ana = feed.looks
    timer.at(timer.monotonic() + 0.3, lambda: register(store, "bea"))

    assert [event.position for event in next(batches).events] == [2]

    assert looks_for_ana == 1, "one read: fewer events than the limit, so the last one is the head"
    assert feed.looks - looks_for_ana == 1, "one read for bea, none in vain right after ana's batch"
    assert signal.waits == [SIGNALLED_POLL_INTERVAL_S]


def test_a_follower_given_a_full_batch_reads_on_at_once(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    signal = TimerSignal(timer)
    for name in ("ana", "bea", "cai"):
        register(store, name)
    batches = follow_feed(
        uow_factory.feed, after=0, limit=2, heartbeat_s=5.0, lasts_s=60.0, signal=signal,
        monotonic=timer.monotonic, sleep=timer.sleep,
    )

    first, second = next(batches), next(batches)

    assert [event.position for event in first.events] == [1, 2]
    assert [event.position for event in second.events] == [3]
    assert signal.waits == [], "more may wait after a full batch: no wait"
    assert timer.sleeps == []


def test_events_committed_while_a_follower_gathers_travel_in_one_batch(
    uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    signal, store = signalled_store(uow_factory, timer)
    register(store, "ana")
    batches = follow_feed(
        uow_factory.feed, after=0, limit=10, heartbeat_s=5.0, lasts_s=60.0, gather_s=0.05,
        signal=signal, monotonic=timer.monotonic, sleep=timer.sleep,
    )
    assert [event.position for event in next(batches).events] == [1]
    sent = timer.monotonic()
    timer.at(sent + 0.01, lambda: register(store, "bea"))
    timer.at(sent + 0.03, lambda: register(store, "cai"))

    second = next(batches)

    assert [event.position for event in second.events] == [2, 3], "one batch, not two"
    assert timer.monotonic() - sent == pytest.approx(0.05), "read once the gathering ended"
    assert signal.waits == [], "the commits came while it gathered: nothing more to wait for"


def test_an_event_after_a_quiet_spell_is_not_held_for_gathering(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    # Without a signal the follower polls every POLL_INTERVAL_S: bea, committed long after the
    # gathering that followed ana's batch ended, comes with the next poll.
    register(store, "ana")
    batches = follow_feed(
        uow_factory.feed, after=0, limit=10, heartbeat_s=5.0, lasts_s=60.0, gather_s=0.05,
        monotonic=timer.monotonic, sleep=timer.sleep,
    )
    assert [event.position for event in next(batches).events] == [1]
    committed = timer.monotonic() + 1.0
    timer.at(committed, lambda: register(store, "bea"))

    assert [event.position for event in next(batches).events] == [2]
    assert timer.monotonic() - committed <= POLL_INTERVAL_S


def test_a_follower_catching_up_is_not_held_for_gathering(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, timer: FakeTimer
) -> None:
    for name in ("ana", "bea", "cai"):
        register(store, name)
    batches = follow_feed(
        uow_factory.feed, after=0, limit=2, heartbeat_s=5.0, lasts_s=60.0, gather_s=0.05,
        monotonic=timer.monotonic, sleep=timer.sleep,
    )

    assert [event.position for event in next(batches).events] == [1, 2]
    assert [event.position for event in next(batches).events] == [3]
    assert timer.sleeps == [], "a full batch: more events wait, read them at once"

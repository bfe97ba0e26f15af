"""The projection use case with in-memory fakes of its ports: exactly once, resumable, race-safe."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from sportapp_core.ports import FeedBatch, ProjectionStatus
from sportapp_core.services.projection import (
    Backoff,
    ObserverGroup,
    ProjectionNotReady,
    ProjectionSettings,
    ProjectionStuck,
    Projector,
    projection_report,
)
from tests.unit.consulta.fakes import FakeClock, FakeFeed, FakeReadModel, StopAfter


def projector(model: FakeReadModel, feed: FakeFeed, batch_size: int = 100) -> Projector:
    return Projector(
        model,
        feed,
        feed.clock,
        settings=ProjectionSettings(batch_size=batch_size, wait_s=0.0, backoff=Backoff(0.1, 2.0)),
    )


@pytest.fixture
def feed() -> FakeFeed:
    return FakeFeed(FakeClock())


@pytest.fixture
def model() -> FakeReadModel:
    return FakeReadModel()


def test_registered_users_become_views(feed: FakeFeed, model: FakeReadModel) -> None:
    feed.register("ana@example.com")
    feed.register("bea@example.com")

    added = projector(model, feed).run_once()

    assert added == 2
    assert [user.email.value for user in model.users.values()] == ["ana@example.com", "bea@example.com"]
    assert model.position("users").position == 2


def test_each_commit_stores_its_batch_position_with_its_views(feed: FakeFeed, model: FakeReadModel) -> None:
    for name in ("a", "b", "c"):
        feed.register(f"{name}@example.com")
    runner = projector(model, feed, batch_size=2)

    runner.run_once()
    runner.run_once()

    assert model.commits == [(2, [1, 2]), (3, [3])]


def test_a_batch_that_fails_midway_leaves_neither_views_nor_position(
    feed: FakeFeed, model: FakeReadModel
) -> None:
    feed.register("ana@example.com")
    model.fail_on_add = RuntimeError("disk full")
    runner = projector(model, feed)

    with pytest.raises(RuntimeError):
        runner.run_once()

    assert model.users == {}
    assert model.position("users").position == 0
    runner.run_once()
    assert model.applied == {1: 1}


def test_rounds_after_catching_up_apply_nothing_twice(feed: FakeFeed, model: FakeReadModel) -> None:
    feed.register("ana@example.com")
    runner = projector(model, feed)

    results = [runner.run_once() for _ in range(3)]

    assert results == [1, 0, 0]
    assert model.applied == {1: 1}
    assert runner.status.caught_up


def test_events_of_other_kinds_move_the_position_but_add_no_view(
    feed: FakeFeed, model: FakeReadModel
) -> None:
    feed.append("PasswordChanged", {"user_id": 1})
    feed.register("ana@example.com")

    projector(model, feed).run_once()

    assert model.position("users").position == 2
    assert list(model.users) == [2]


def test_restarted_projector_resumes_from_the_stored_position(feed: FakeFeed, model: FakeReadModel) -> None:
    feed.register("ana@example.com")
    projector(model, feed).run_once()
    feed.register("bea@example.com")
    feed.pulls.clear()

    restarted = projector(model, feed)
    added = restarted.run_once()

    assert feed.pulls == [1]
    assert added == 1
    assert model.applied == {1: 1, 2: 1}


def test_projector_that_loses_the_race_applies_nothing_and_rereads(
    feed: FakeFeed, model: FakeReadModel
) -> None:
    for name in ("a", "b", "c"):
        feed.register(f"{name}@example.com")
    first, second = projector(model, feed), projector(model, feed)
    # The first pulls the batch, then the second pulls and stores the same batch before it.
    feed.before_answer = second.run_once

    added = first.run_once()

    assert added == 0
    assert first.status.races_lost == 1
    assert model.applied == {1: 1, 2: 1, 3: 1}
    assert first.run_once() == 0
    assert feed.pulls[-1] == 3
    assert first.status.caught_up


def test_two_projectors_on_threads_apply_every_event_exactly_once(
    feed: FakeFeed, model: FakeReadModel
) -> None:
    runners = [projector(model, feed, batch_size=7) for _ in range(2)]
    stopped = threading.Event()
    threads = [threading.Thread(target=runner.run, args=(stopped,)) for runner in runners]
    for thread in threads:
        thread.start()
    try:
        for number in range(300):
            feed.register(f"user{number}@example.com")
        deadline = time.monotonic() + 5
        while model.position("users").position < 300 and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        stopped.set()
        for thread in threads:
            thread.join(5)

    assert model.position("users").position == 300
    assert model.applied == dict.fromkeys(range(1, 301), 1)
    assert not any(thread.is_alive() for thread in threads)


def test_backs_off_doubling_to_a_cap_while_db_is_down_then_resets(
    feed: FakeFeed, model: FakeReadModel
) -> None:
    feed.down = True
    runner = projector(model, feed)
    stopper = StopAfter(waits=7)

    runner.run(stopper)

    assert stopper.delays == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert runner.status.feed_up is False
    assert runner.status.last_error == "db unavailable"


def test_catches_up_by_itself_when_db_comes_back(feed: FakeFeed, model: FakeReadModel) -> None:
    feed.register("ana@example.com")
    feed.down = True
    runner = projector(model, feed)

    def db_back_after_three_failures(waits: int) -> None:
        if waits == 3:
            feed.down = False
            feed.register("bea@example.com")

    runner.run(StopAfter(waits=10, rounds=20, on_wait=db_back_after_three_failures))

    assert model.applied == {1: 1, 2: 1}
    assert runner.status.caught_up
    assert runner.status.feed_up is True
    assert runner.status.last_error is None


def test_any_failure_of_a_round_is_retried_not_fatal(feed: FakeFeed, model: FakeReadModel) -> None:
    feed.register("ana@example.com")
    model.fail_on_add = RuntimeError("a bug")
    runner = projector(model, feed)
    stopper = StopAfter(waits=5, rounds=5)

    runner.run(stopper)

    assert stopper.delays == [0.1]
    assert model.applied == {1: 1}


def test_lag_is_the_time_from_record_to_projection_of_the_latest_batch(
    feed: FakeFeed, model: FakeReadModel
) -> None:
    feed.register("ana@example.com")
    feed.clock.advance(0.5)
    feed.register("bea@example.com")
    feed.clock.advance(0.25)

    projector(model, feed).run_once()

    assert model.position("users").lag_ms == 750.0


def test_a_peer_that_stored_up_to_the_known_head_makes_the_loser_ready_without_a_new_answer(
    feed: FakeFeed, model: FakeReadModel
) -> None:
    for name in ("a", "b"):
        feed.register(f"{name}@example.com")
    first, second = projector(model, feed), projector(model, feed)
    feed.before_answer = second.run_once
    first.run_once()  # loses the race to the peer: the batch is stored, but not by it
    assert not first.status.caught_up

    feed.down = True  # the feed goes away before it answers this projector again
    with pytest.raises(Exception, match="db"):
        first.run_once()

    assert first.status.caught_up
    assert projection_report(model.position("users"), first.status)["lag_events"] == 0


def test_report_is_not_ready_until_the_projector_caught_up_once(feed: FakeFeed, model: FakeReadModel) -> None:
    feed.down = True
    runner = projector(model, feed)
    with pytest.raises(Exception, match="db"):
        runner.run_once()

    with pytest.raises(ProjectionNotReady):
        projection_report(model.position("users"), runner.status)


def test_report_stays_ready_and_says_db_is_down_once_caught_up(feed: FakeFeed, model: FakeReadModel) -> None:
    feed.register("ana@example.com")
    feed.register("bea@example.com")
    runner = projector(model, feed)
    runner.run_once()
    feed.down = True
    with pytest.raises(Exception, match="db"):
        runner.run_once()

    report = projection_report(model.position("users"), runner.status)

    assert report["feed"] == "down"
    assert report["position"] == report["head"] == 2
    assert report["lag_events"] == 0
    assert report["caught_up"] is True


def test_report_counts_events_not_projected_yet(feed: FakeFeed, model: FakeReadModel) -> None:
    for name in ("a", "b", "c"):
        feed.register(f"{name}@example.com")
    runner = projector(model, feed, batch_size=1)
    runner.run_once()
    runner.run_once()

    with pytest.raises(ProjectionNotReady):
        projection_report(model.position("users"), runner.status)
    assert runner.status.lag_events == 1
    runner.run_once()
    assert projection_report(model.position("users"), runner.status)["lag_events"] == 0


def test_the_round_after_a_stored_batch_starts_from_it_without_reading_it_back(
    feed: FakeFeed, model: FakeReadModel
) -> None:
    runner = projector(model, feed)
    feed.register("ana@example.com")
    runner.run_once()
    feed.register("bea@example.com")
    reads = model.position_reads

    assert runner.run_once() == 1
    assert model.position_reads == reads
    assert model.positions["users"].position == 2


def test_a_round_after_one_that_stored_nothing_reads_the_position_a_peer_may_have_moved(
    feed: FakeFeed, model: FakeReadModel
) -> None:
    runner, peer = projector(model, feed), projector(model, feed)
    feed.register("ana@example.com")
    runner.run_once()
    feed.register("bea@example.com")
    peer.run_once()  # the peer stores position 2
    feed.register("cy@example.com")

    assert runner.run_once() == 0, "starting from its own position 1, it loses the race"
    assert runner.run_once() == 1, "then it reads the position back and goes on from 2"
    assert sorted(model.applied.values()) == [1, 1, 1]


class GappedFeed:
    """A transport that knows of newer events but cannot hand them over (a gap in a stream)."""

    def __init__(self, feed: FakeFeed) -> None:
        self.feed = feed

    def read(self, *, after: int, limit: int, wait_s: float) -> FeedBatch:
        return FeedBatch(events=[], head=len(self.feed.events))


def test_a_projection_that_knows_of_events_it_cannot_apply_is_reported_stuck_after_a_while(
    feed: FakeFeed, model: FakeReadModel
) -> None:
    feed.register("ana@example.com")
    projector(model, feed).run_once()  # a healthy peer brings the read model to position 1
    gapped = Projector(model, GappedFeed(feed), feed.clock, settings=ProjectionSettings(wait_s=0.0))
    gapped.run_once()  # position 1 of head 1: up to date, ready
    feed.register("bea@example.com")
    gapped.run_once()  # head 2, and nothing it can apply

    feed.clock.advance(29)
    gapped.run_once()
    report = projection_report(model.position("users"), gapped.status, now=feed.clock.now(), stuck_after_s=30)
    assert report["lag_events"] == 1, "behind, but not for long yet"

    feed.clock.advance(2)
    gapped.run_once()
    with pytest.raises(ProjectionStuck, match="position 1, head 2: nothing applied for 31 s"):
        projection_report(model.position("users"), gapped.status, now=feed.clock.now(), stuck_after_s=30)


def test_a_caught_up_projection_on_a_quiet_feed_is_never_stuck(feed: FakeFeed, model: FakeReadModel) -> None:
    feed.register("ana@example.com")
    runner = projector(model, feed)
    runner.run_once()

    feed.clock.advance(3600)
    runner.run_once()  # nothing new: an hour of quiet is not a stuck projection

    report = projection_report(model.position("users"), runner.status, now=feed.clock.now(), stuck_after_s=30)
    assert report["lag_events"] == 0


def test_a_caught_up_projection_whose_feed_is_down_is_not_stuck(feed: FakeFeed, model: FakeReadModel) -> None:
    feed.register("ana@example.com")
    runner = projector(model, feed)
    runner.run_once()
    feed.down = True
    feed.clock.advance(3600)
    with pytest.raises(Exception, match="db"):
        runner.run_once()

    # Stale reads stay served: it holds every event it knew of.
    report = projection_report(model.position("users"), runner.status, now=feed.clock.now(), stuck_after_s=30)
    assert report["feed"] == "down"


def test_a_projector_taking_over_carries_on_ready_while_the_feed_is_down(
    feed: FakeFeed, model: FakeReadModel
) -> None:
    feed.register("ana@example.com")
    first = projector(model, feed)
    first.run_once()
    feed.down = True  # the first one dies now; db goes down with it
    successor = projector(model, feed)

    successor.carry_on_from(first.status)
    with pytest.raises(Exception, match="db"):
        successor.run_once()

    report = projection_report(model.position("users"), successor.status)
    assert report["caught_up"] is True
    assert report["feed"] == "down"
    feed.down = False
    feed.register("bea@example.com")
    assert successor.run_once() == 1  # from the stored position, not from the status it carried


def test_a_group_of_observers_hears_everything_in_order() -> None:
    heard: list[tuple[str, object]] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def status_changed(self, status: ProjectionStatus) -> None:
            heard.append((self.name, status.position))

        def batch_applied(self, applied: int, lags_s: Sequence[float]) -> None:
            heard.append((self.name, applied))

        def race_lost(self) -> None:
            heard.append((self.name, "race"))

    group = ObserverGroup(Recorder("metrics"), Recorder("seat"))
    group.status_changed(ProjectionStatus(position=7))
    group.batch_applied(3, [0.1])
    group.race_lost()

    assert heard == [
        ("metrics", 7), ("seat", 7), ("metrics", 3), ("seat", 3), ("metrics", "race"), ("seat", "race")
    ]

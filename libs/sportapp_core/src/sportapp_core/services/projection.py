"""The read side's projection: pull the write side's event feed into consulta's own read model.

Each round reads the stored position, pulls the events after it, and applies them in one read-model
transaction that also moves the position, with a compare-and-set: several projectors (one in
each replica of consulta) may run at once, and whichever loses the race rolls back and starts over
from the position the winner stored. So every event takes effect exactly once, none is skipped, and a
projector that restarts resumes where the read model says it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sportapp_core.domain import UserRegistered
from sportapp_core.ports import (
    Clock,
    EventSource,
    ProjectionObserver,
    ProjectionStatus,
    ReadModel,
    Stopper,
    StoredEvent,
    StoredPosition,
)
from sportapp_core.services.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

USERS_PROJECTION = "users"


class _NoObserver:
    def status_changed(self, status: ProjectionStatus) -> None:
        pass

    def batch_applied(self, applied: int, lags_s: Sequence[float]) -> None:
        pass

    def race_lost(self) -> None:
        pass


class ObserverGroup:
    """Several :class:`ProjectionObserver` as one: each hears everything, in the order given."""

    def __init__(self, *observers: ProjectionObserver) -> None:
        self._observers = observers

    def status_changed(self, status: ProjectionStatus) -> None:
        for observer in self._observers:
            observer.status_changed(status)

    def batch_applied(self, applied: int, lags_s: Sequence[float]) -> None:
        for observer in self._observers:
            observer.batch_applied(applied, lags_s)

    def race_lost(self) -> None:
        for observer in self._observers:
            observer.race_lost()


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays after a failed round: ``initial_s``, doubling, capped at ``max_s``."""

    initial_s: float = 0.1
    max_s: float = 2.0

    def after(self, delay_s: float) -> float:
        """The delay that follows ``delay_s``."""
        return min(delay_s * 2, self.max_s)


@dataclass(frozen=True, slots=True)
class ProjectionSettings:
    """Batch size and wait of the pulls (how long a quiet feed stays silent), back-off after failures."""

    batch_size: int = 100
    wait_s: float = 5.0
    backoff: Backoff = Backoff()


class ProjectionNotReady(Exception):
    """The projector has not caught up with the feed since it started: its views may be far behind."""


class ProjectionStuck(ProjectionNotReady):
    """The projection knows of events it has not applied, and has not moved for too long."""


class Projector:
    """Projects the event feed into a read model, exactly once, alongside any number of peers."""

    def __init__(
        self,
        read_model: ReadModel,
        source: EventSource,
        clock: Clock,
        *,
        name: str = USERS_PROJECTION,
        settings: ProjectionSettings = ProjectionSettings(),
        observer: ProjectionObserver | None = None,
    ) -> None:
        self._read_model = read_model
        self._source = source
        self._clock = clock
        self._name = name
        self._settings = settings
        self._observer = observer or _NoObserver()
        # Replaced whole, never mutated: readers on other threads always see a consistent status.
        self._status = ProjectionStatus()
        # The position this projector has just stored itself: the round right after starts from it
        # without reading it back. Any other round reads it (a peer may have moved it since).
        self._stored: StoredPosition | None = None

    @property
    def name(self) -> str:
        """The projection's name, the key of its stored position."""
        return self._name

    @property
    def status(self) -> ProjectionStatus:
        """The latest status (safe to read from any thread)."""
        return self._status

    def carry_on_from(self, status: ProjectionStatus) -> None:
        """Start from ``status``, another projector's of the same instance, which stopped: whether
        the read model caught up once, when it last moved, what the feed said. Before :meth:`run`.
        """
        self._status = status
        self._stored = None

    def run_once(self) -> int:
        """One round: pull after the stored position, apply, store the new position; views added.

        Raises :class:`DependencyUnavailable` when the feed or the read model does not answer.
        """
        stored, self._stored = self._stored or self._read_model.position(self._name), None
        # A peer that stored up to the head this projector last heard of caught the read model up:
        # a follower of a stream may not hear from the feed again until its next event or heartbeat.
        known_head = self._status.head
        caught_up = self._status.caught_up or (known_head is not None and stored.position >= known_head)
        moved = stored.position > self._status.position or (
            known_head is not None and stored.position >= known_head
        )
        self._publish(
            replace(
                self._status, position=stored.position, lag_ms=stored.lag_ms, caught_up=caught_up,
                progressed_at=self._clock.now() if moved else self._status.progressed_at,
            )
        )
        try:
            batch = self._source.read(
                after=stored.position, limit=self._settings.batch_size, wait_s=self._settings.wait_s
            )
        except DependencyUnavailable:
            self._publish(replace(self._status, feed_up=False))
            raise
        head = max(batch.head, stored.position)
        events = [event for event in batch.events if event.position > stored.position]
        answered = replace(self._status, feed_up=True, head=head, last_error=None)
        if not events:
            # Nothing to apply is not always caught up: a transport that hands over only a
            # gap-free run (Redis Streams) may know of newer events it cannot apply yet.
            up_to_date = head <= stored.position
            self._publish(
                replace(
                    answered, caught_up=answered.caught_up or up_to_date,
                    progressed_at=self._clock.now() if up_to_date else answered.progressed_at,
                )
            )
            return 0
        outcome = self._apply(stored.position, events)
        if outcome is None:
            # A peer stored this batch first: nothing was applied here; the next round re-reads.
            self._publish(replace(answered, races_lost=answered.races_lost + 1))
            self._observer.race_lost()
            return 0
        applied, lag_ms, projected_at = outcome
        position = events[-1].position
        self._stored = StoredPosition(position=position, updated_at=projected_at, lag_ms=lag_ms)
        head = max(head, position)
        caught_up = answered.caught_up or position >= head
        self._publish(
            replace(
                answered, position=position, head=head, lag_ms=lag_ms, caught_up=caught_up,
                progressed_at=projected_at,
            )
        )
        return applied

    def _apply(
        self, expected: int, events: Sequence[StoredEvent]
    ) -> tuple[int, float, datetime] | None:
        registrations = [
            UserRegistered.from_payload(event.payload)
            for event in events
            if event.name == UserRegistered.name
        ]
        with self._read_model.transaction(self._name) as transaction:
            # Timed inside the transaction: waiting for a peer's write lock is part of the lag.
            projected_at = self._clock.now()
            lags_s = [max(0.0, (projected_at - event.recorded_at).total_seconds()) for event in events]
            lag_ms = round(max(lags_s) * 1000, 3)
            # Position first: a peer working on the same batch waits on this row, not on the views.
            if not transaction.advance(
                expected=expected, to=events[-1].position, at=projected_at, lag_ms=lag_ms
            ):
                return None
            applied = transaction.add_users(registrations, projected_at)
            transaction.commit()
        self._observer.batch_applied(applied, lags_s)
        return applied, lag_ms, projected_at

    def run(self, stopped: Stopper) -> None:
        """Run rounds until ``stopped``; after a failure, back off and retry, never give up."""
        delay_s = self._settings.backoff.initial_s
        while not stopped.is_set():
            try:
                self.run_once()
            except DependencyUnavailable as error:
                if self._status.last_error is None:
                    logger.warning(
                        "projection paused: %s unavailable", error.dependency, extra={"retry_s": delay_s}
                    )
                self._publish(replace(self._status, last_error=f"{error.dependency} unavailable"))
            except Exception as error:  # a bug or a bad event must not kill the thread; retry
                logger.exception("projection round failed", extra={"retry_s": delay_s})
                self._publish(replace(self._status, last_error=type(error).__name__))
            else:
                delay_s = self._settings.backoff.initial_s
                continue
            stopped.wait(delay_s)
            delay_s = self._settings.backoff.after(delay_s)

    def _publish(self, status: ProjectionStatus) -> None:
        was_failing = self._status.last_error is not None
        self._status = status
        if was_failing and status.last_error is None:
            logger.info("projection resumed", extra={"position": self._status.position})
        self._observer.status_changed(self._status)


def projection_report(
    stored: StoredPosition,
    status: ProjectionStatus | None,
    *,
    now: datetime | None = None,
    stuck_after_s: float | None = None,
) -> dict[str, object]:
    """The projection's health details; raise :class:`ProjectionNotReady` until it caught up once,
    and :class:`ProjectionStuck` when, at ``now``, it has known of events beyond its position and
    not moved for more than ``stuck_after_s``.

    ``status`` is None when this instance runs no projector (another one feeds the read model).
    """
    report: dict[str, object] = {
        "position": stored.position,
        "updated_at": stored.updated_at.isoformat() if stored.updated_at else None,
        "lag_ms": stored.lag_ms,
    }
    if status is None:
        report["projector"] = "off"
        return report
    head = None if status.head is None else max(status.head, stored.position)
    report.update(
        projector="on",
        head=head,
        lag_events=None if head is None else head - stored.position,
        feed={None: "unknown", True: "up", False: "down"}[status.feed_up],
        caught_up=status.caught_up,
        races_lost=status.races_lost,
        last_error=status.last_error,
    )
    if not status.caught_up:
        raise ProjectionNotReady("the projection has not caught up with the feed since it started")
    behind = 0 if head is None else head - stored.position
    if behind > 0 and now is not None and stuck_after_s is not None and status.progressed_at is not None:
        still_s = (now - status.progressed_at).total_seconds()
        if still_s > stuck_after_s:
            raise ProjectionStuck(
                f"position {stored.position}, head {head}: nothing applied for {still_s:.0f} s"
            )
    return report

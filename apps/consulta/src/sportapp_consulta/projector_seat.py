"""One projector per consulta instance, however many gunicorn workers serve its queries.

Every worker of an instance starts a projector thread, and only the one whose process holds the
instance's seat (:class:`sportapp_core.adapters.worker_seat.WorkerSeat`, made by gunicorn's master
before it forks) projects. So an instance keeps one stream of db's feed open, not one per worker.
When the holder dies another worker takes the seat within a poll, resumes from the position stored
in the read model, and carries on from the status the holder published last. That status is the
seat's record, written after every round and read by every worker's ``/health``: the instance's
readiness is the same whichever worker answers.

A process on its own (tests, tools) makes a seat of its own and takes it at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sportapp_core.adapters.worker_seat import WorkerSeat
from sportapp_core.ports import ProjectionStatus, Stopper

# last_error is short (a dependency's name or an exception's class); cut anyway, so that a record
# always fits the seat.
_MAX_ERROR_CHARS = 200


class ProjectorSeat:
    """The instance's projector seat, and the projection's status as its record.

    A :class:`~sportapp_core.ports.ProjectionObserver` for the holder's projector (only
    ``status_changed`` does anything).
    """

    def __init__(self, seat: WorkerSeat, *, owned: bool) -> None:
        """``owned``: this process made ``seat`` and :meth:`close` closes it (a worker's is the
        master's, inherited, and lasts as long as the worker)."""
        self._seat = seat
        self._owned = owned

    def take(self, stopped: Stopper) -> bool:
        """Wait until this worker holds the seat (True) or ``stopped`` is set (False)."""
        return self._seat.take(stopped)

    def leave(self) -> None:
        """Give the seat up."""
        self._seat.leave()

    def status_changed(self, status: ProjectionStatus) -> None:
        """Publish the holder's status to every worker."""
        self._seat.publish(json.dumps(_as_record(status)).encode())

    def batch_applied(self, applied: int, lags_s: Sequence[float]) -> None:
        """Nothing to share: the metrics count batches."""

    def race_lost(self) -> None:
        """Nothing to share: the metrics count races."""

    def latest(self) -> ProjectionStatus | None:
        """The status last published by any holder; None while none has published yet."""
        record = self._seat.latest()
        return None if record is None else _from_record(json.loads(record))

    def close(self) -> None:
        """Close the seat if this process made it."""
        if self._owned:
            self._seat.close()


def _as_record(status: ProjectionStatus) -> dict[str, object]:
    return {
        "position": status.position,
        "head": status.head,
        "lag_ms": status.lag_ms,
        "feed_up": status.feed_up,
        "caught_up": status.caught_up,
        "races_lost": status.races_lost,
        "last_error": None if status.last_error is None else status.last_error[:_MAX_ERROR_CHARS],
        "progressed_at": None if status.progressed_at is None else status.progressed_at.isoformat(),
    }


def _from_record(record: dict[str, Any]) -> ProjectionStatus:
    progressed_at = record["progressed_at"]
    return ProjectionStatus(
        position=record["position"],
        head=record["head"],
        lag_ms=record["lag_ms"],
        feed_up=record["feed_up"],
        caught_up=record["caught_up"],
        races_lost=record["races_lost"],
        last_error=record["last_error"],
        progressed_at=None if progressed_at is None else datetime.fromisoformat(progressed_at),
    )

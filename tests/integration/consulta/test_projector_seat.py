"""ProjectorSeat: the projection's status as the record of a real WorkerSeat."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from sportapp_consulta.projector_seat import ProjectorSeat
from sportapp_core.adapters.worker_seat import WorkerSeat
from sportapp_core.ports import ProjectionStatus

STATUS = ProjectionStatus(
    position=41,
    head=42,
    lag_ms=12.5,
    feed_up=True,
    caught_up=True,
    races_lost=3,
    last_error=None,
    progressed_at=datetime(2026, 12, 6, 8, 30, 1, 250000, tzinfo=timezone.utc),
)


@pytest.mark.parametrize(
    "status", [STATUS, ProjectionStatus(), ProjectionStatus(feed_up=False, last_error="db")]
)
def test_a_status_reads_back_whole(status: ProjectionStatus) -> None:
    seat = ProjectorSeat(WorkerSeat.create(), owned=True)
    try:
        assert seat.latest() is None
        seat.status_changed(status)
        assert seat.latest() == status
    finally:
        seat.close()


def test_a_long_error_is_cut_to_fit_the_record() -> None:
    seat = ProjectorSeat(WorkerSeat.create(), owned=True)
    try:
        seat.status_changed(ProjectionStatus(last_error="x" * 10_000))
        published = seat.latest()
    finally:
        seat.close()
    assert published is not None
    assert published.last_error == "x" * 200


def test_only_a_seat_this_process_made_is_closed_with_it() -> None:
    inherited = WorkerSeat.create()
    try:
        ProjectorSeat(inherited, owned=False).close()
        assert inherited.take(threading.Event()) is True  # still open

        ProjectorSeat(inherited, owned=True).close()
        assert inherited.take(threading.Event()) is False
    finally:
        inherited.close()

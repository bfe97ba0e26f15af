"""ProjectorSeat between real processes: forked as gunicorn forks its workers, POSIX locks of the kernel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from sportapp_consulta.projector_seat import ProjectorSeat
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
# Another process with the seat's file open, as a gunicorn worker has it: takes the seat,
# publishes STATUS, says so, and keeps the seat until its stdin closes (or it is killed).
HOLDER = f"""
import datetime, os, sys, threading
from sportapp_consulta.projector_seat import ProjectorSeat
from sportapp_core.ports import ProjectionStatus
seat = ProjectorSeat(os.fdopen(int(sys.argv[1]), "r+b"))
assert seat.take(threading.Event())
seat.status_changed({STATUS!r})
print("seated", flush=True)
sys.stdin.read()
seat.leave()
"""


@pytest.fixture
def seat() -> Iterator[ProjectorSeat]:
    seat = ProjectorSeat.create(poll_s=0.01)
    yield seat
    seat.close()


@pytest.fixture
def holder(seat: ProjectorSeat) -> Iterator[subprocess.Popen[str]]:
    """Another process, holding the seat."""
    fd = seat.fileno()
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(fd)],
        pass_fds=[fd],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "seated\n", "the other process never took the seat"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for pipe in (process.stdin, process.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


def stopped_after(seconds: float) -> threading.Event:
    stopped = threading.Event()
    timer = threading.Timer(seconds, stopped.set)
    timer.daemon = True
    timer.start()
    return stopped


def test_nothing_is_published_before_a_holder_publishes(seat: ProjectorSeat) -> None:
    assert seat.latest() is None


def test_a_status_reads_back_whole(seat: ProjectorSeat) -> None:
    seat.status_changed(STATUS)
    assert seat.latest() == STATUS

    unknown = ProjectionStatus(last_error="feed unavailable")
    seat.status_changed(unknown)  # shorter than the one before: its length, not the file's, counts
    assert seat.latest() == unknown


def test_a_long_error_is_cut_to_fit_the_record(seat: ProjectorSeat) -> None:
    seat.status_changed(ProjectionStatus(last_error="x" * 10_000))
    published = seat.latest()
    assert published is not None
    assert published.last_error == "x" * 200


def test_one_process_holds_the_seat_and_its_death_frees_it(
    seat: ProjectorSeat, holder: subprocess.Popen[str]
) -> None:
    assert seat.take(stopped_after(0.3)) is False
    assert seat.latest() == STATUS  # published by the other process, read here

    os.kill(holder.pid, signal.SIGKILL)  # as gunicorn kills a worker past its timeout
    holder.wait(10)
    assert seat.take(stopped_after(10)) is True


def test_a_holder_that_leaves_frees_the_seat(seat: ProjectorSeat, holder: subprocess.Popen[str]) -> None:
    assert seat.take(stopped_after(0.1)) is False
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(10) == 0
    assert seat.take(stopped_after(10)) is True


def test_a_stopped_wait_for_the_seat_ends_at_once(seat: ProjectorSeat, holder: subprocess.Popen[str]) -> None:
    stopped = threading.Event()
    stopped.set()
    assert seat.take(stopped) is False


def test_threads_writing_and_reading_at_once_see_whole_records(seat: ProjectorSeat) -> None:
    # Records of varying length, rewritten in place: each read must be one that was written whole.
    statuses = [ProjectionStatus(position=n, last_error="e" * (n % 150)) for n in range(2000)]
    seen: list[ProjectionStatus] = []
    written = threading.Event()

    def write() -> None:
        for status in statuses:
            seat.status_changed(status)
        written.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not written.is_set():
        status = seat.latest()
        if status is not None:
            seen.append(status)
    writer.join()
    assert seen, "the reader never saw a status"
    assert all(status in statuses for status in seen)
    assert seat.latest() == statuses[-1]

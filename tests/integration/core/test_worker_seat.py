"""WorkerSeat between real processes that share its file as gunicorn's workers do, with the kernel's
POSIX locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from sportapp_core.adapters.worker_seat import MAX_RECORD_BYTES, WorkerSeat

RECORD = b'{"position": 41, "caught_up": true}'
# Another process with the seat's file open, as a gunicorn worker has it: takes the seat,
# publishes RECORD, says so, and keeps the seat until its stdin closes (or it is killed).
HOLDER = f"""
import os, sys, threading
from sportapp_core.adapters.worker_seat import WorkerSeat
seat = WorkerSeat(os.fdopen(int(sys.argv[1]), "r+b"))
assert seat.take(threading.Event())
seat.publish({RECORD!r})
print("seated", flush=True)
sys.stdin.read()
seat.leave()
"""


@pytest.fixture
def seat() -> Iterator[WorkerSeat]:
    seat = WorkerSeat.create(poll_s=0.01)
    yield seat
    seat.close()


@pytest.fixture
def holder(seat: WorkerSeat) -> Iterator[subprocess.Popen[str]]:
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


def test_nothing_is_published_before_a_holder_publishes(seat: WorkerSeat) -> None:
    assert seat.latest() is None


def test_a_record_reads_back_whole(seat: WorkerSeat) -> None:
    seat.publish(RECORD)
    assert seat.latest() == RECORD

    seat.publish(b"{}")  # shorter than the one before: its length, not the file's, counts
    assert seat.latest() == b"{}"


def test_a_record_longer_than_the_seat_holds_is_refused(seat: WorkerSeat) -> None:
    seat.publish(RECORD)
    with pytest.raises(ValueError, match="holds 4096 bytes"):
        seat.publish(b"x" * (MAX_RECORD_BYTES + 1))
    assert seat.latest() == RECORD


def test_a_closed_seat_cannot_be_taken_publishes_nothing_and_reads_empty(seat: WorkerSeat) -> None:
    seat.publish(RECORD)
    seat.close()

    assert seat.take(threading.Event()) is False
    seat.publish(b"late")  # a projector thread that outlived its app's close
    seat.leave()
    assert seat.latest() is None


def test_one_process_holds_the_seat_and_its_death_frees_it(
    seat: WorkerSeat, holder: subprocess.Popen[str]
) -> None:
    assert seat.take(stopped_after(0.3)) is False
    assert seat.latest() == RECORD  # published by the other process, read here

    os.kill(holder.pid, signal.SIGKILL)  # as gunicorn kills a worker past its timeout
    holder.wait(10)
    assert seat.take(stopped_after(10)) is True


def test_a_holder_that_leaves_frees_the_seat(seat: WorkerSeat, holder: subprocess.Popen[str]) -> None:
    assert seat.take(stopped_after(0.1)) is False
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(10) == 0
    assert seat.take(stopped_after(10)) is True


def test_a_stopped_wait_for_the_seat_ends_at_once(seat: WorkerSeat, holder: subprocess.Popen[str]) -> None:
    stopped = threading.Event()
    stopped.set()
    assert seat.take(stopped) is False


def test_threads_writing_and_reading_at_once_see_whole_records(seat: WorkerSeat) -> None:
    # Records of varying length, rewritten in place: each read must be one that was written whole.
    records = [b"%d:" % n + b"e" * (n % 150) for n in range(2000)]
    seen: list[bytes] = []
    written = threading.Event()

    def write() -> None:
        for record in records:
            seat.publish(record)
        written.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not written.is_set():
        record = seat.latest()
        if record is not None:
            seen.append(record)
    writer.join()
    assert seen, "the reader never saw a record"
    written_records = set(records)
    assert all(record in written_records for record in seen)
    assert seat.latest() == records[-1]

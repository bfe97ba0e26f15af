"""One projector per consulta instance, however many gunicorn workers serve its queries.

gunicorn's master makes the instance's :class:`ProjectorSeat` before it forks its workers
(``apps/consulta/gunicorn.conf.py``) and every worker inherits it: an unlinked temporary file.

- Its first byte is the seat. Every worker starts a projector thread that waits until its process
  holds a POSIX lock on that byte, and only then projects. Such a lock belongs to a process, is
  not inherited by a fork, and is freed by the kernel when its process dies, however it dies
  (gunicorn's timeout, a reload, SIGKILL): another worker takes the seat within a poll, and
  resumes from the position stored in the read model. So an instance keeps one stream of db's feed
  open, not one per worker, and no registration is projected by two workers of one instance.
- The rest of the file holds the projection's status, written by the seat's holder after every
  round and read by every worker's readiness check: ``/ready`` answers the same from any worker.

A process on its own (tests, tools) makes a seat of its own and takes it at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import struct
import tempfile
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from sportapp_core.ports import ProjectionStatus, Stopper

# Lock ranges (one byte each): the seat, and the status record while it is written or read.
_SEAT = 0
_RECORD = 1
# The record: its length, then the status as JSON. last_error is short (a dependency's name or an
# exception's class), cut to this length anyway so that a record always fits one read.
_LENGTH = struct.Struct("<I")
_MAX_ERROR_CHARS = 200
_MAX_RECORD_BYTES = 4096
# How often a worker without the seat tries to take it: how long an instance goes without a
# projector after the holder died (its views stay readable meanwhile; they fall behind by at most
# this much more).
DEFAULT_POLL_S = 0.2


class ProjectorSeat:
    """The right to project for one consulta instance, and the status its holder publishes.

    A :class:`~sportapp_core.ports.ProjectionObserver` for the holder's projector (only
    ``status_changed`` does anything). Safe to use from any thread and any process that inherited it.
    """

    def __init__(self, file: IO[bytes], *, poll_s: float = DEFAULT_POLL_S) -> None:
        self._file = file
        self._fd = file.fileno()
        self._poll_s = poll_s
        # POSIX locks are the process's: two threads of one process would share them (the reader's
        # unlock would drop the writer's lock). This lock keeps this process's threads in turn.
        self._in_process = threading.Lock()

    @classmethod
    def create(cls, *, poll_s: float = DEFAULT_POLL_S) -> ProjectorSeat:
        """A new seat, in an unlinked temporary file (nothing is left behind, whatever happens)."""
        return cls(tempfile.TemporaryFile(prefix="sportapp-projector-seat-"), poll_s=poll_s)

    def fileno(self) -> int:
        """The seat's file descriptor: what a forked worker inherits, what another process is given."""
        return self._fd

    def take(self, stopped: Stopper) -> bool:
        """Wait until this process holds the seat (True) or ``stopped`` is set (False)."""
        while True:
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SEAT)
                return True
            except OSError:  # another process holds it (EACCES or EAGAIN, by platform)
                if stopped.wait(self._poll_s):
                    return False

    def leave(self) -> None:
        """Give the seat up (a process that exits gives it up anyway; so does :meth:`close`)."""
        if self._file.closed:
            return
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, _SEAT)

    def status_changed(self, status: ProjectionStatus) -> None:
        """Publish the holder's status to every worker."""
        payload = json.dumps(_as_record(status)).encode()
        with self._record_locked(fcntl.LOCK_EX):
            os.pwrite(self._fd, _LENGTH.pack(len(payload)) + payload, 0)

    def batch_applied(self, applied: int, lags_s: Any) -> None:
        """Nothing to share: the metrics count batches."""

    def race_lost(self) -> None:
        """Nothing to share: the metrics count races."""

    def latest(self) -> ProjectionStatus | None:
        """The status last published by any holder, None while none has published yet."""
        with self._record_locked(fcntl.LOCK_SH):
            record = os.pread(self._fd, _LENGTH.size + _MAX_RECORD_BYTES, 0)
        if len(record) < _LENGTH.size:
            return None
        (length,) = _LENGTH.unpack_from(record)
        return _from_record(json.loads(record[_LENGTH.size : _LENGTH.size + length]))

    def close(self) -> None:
        """Close the file (and so leave the seat)."""
        self._file.close()

    @contextlib.contextmanager
    def _record_locked(self, mode: int) -> Iterator[None]:
        with self._in_process:
            fcntl.lockf(self._fd, mode, 1, _RECORD)
            try:
                yield
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, _RECORD)


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


# The seat gunicorn's master made for this instance, inherited by its workers (share_with_workers).
_shared: ProjectorSeat | None = None


def share_with_workers() -> ProjectorSeat:
    """Make this instance's seat; called once by gunicorn's master, before it forks any worker."""
    global _shared
    _shared = ProjectorSeat.create()
    return _shared


def shared_seat() -> ProjectorSeat | None:
    """The seat gunicorn's master shared with this worker, None in a process on its own."""
    return _shared

"""One worker at a time does a job for its whole instance, and tells the others how it goes.

gunicorn's master makes the instance's :class:`WorkerSeat` before it forks its workers (in its
``on_starting`` hook) and every worker inherits it: an unlinked temporary file.

- Its first byte is the seat. A worker that wants the job waits until its process holds a POSIX
  lock on that byte. Such a lock belongs to a process, is not inherited by a fork, and is freed by
  the kernel when its process dies, however it dies (gunicorn's timeout, a reload, SIGKILL):
  another waiting worker takes the seat within a poll.
- The rest of the file holds a short record, written by the seat's holder and read by every
  worker, under a lock on the second byte.

This module imports nothing but the standard library: gunicorn's master imports it, and what the
master imports, its workers inherit instead of loading afresh (a reload would keep old code).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # the master imports this module: nothing more at run time (see above)
    from sportapp_core.ports import Stopper

# Lock ranges (one byte each): the seat, and the record while it is written or read.
_SEAT = 0
_RECORD = 1
_LENGTH = struct.Struct("<I")
MAX_RECORD_BYTES = 4096
# How often a worker without the seat tries to take it: how long an instance goes without its
# job done after the holder died.
DEFAULT_POLL_S = 0.2
# What a non-blocking lock raises while another process holds it (POSIX allows either).
_HELD = (errno.EACCES, errno.EAGAIN)


class WorkerSeat:
    """The seat of one instance's job and the record its holder publishes (see the module).

    Safe to use from any thread of any process that inherited it. Once closed, a seat cannot be
    taken, publishes nothing and reads as empty: a thread that outlives its app's close must not
    write into whatever file gets the descriptor's number next.
    """

    def __init__(self, file: IO[bytes], *, poll_s: float = DEFAULT_POLL_S) -> None:
        self._file = file
        self._poll_s = poll_s
        # POSIX locks are the process's: two threads of one process would share them (the reader's
        # unlock would drop the writer's lock). This lock keeps this process's threads in turn,
        # and a close from running under a thread's read or write.
        self._in_process = threading.Lock()

    @classmethod
    def create(cls, *, poll_s: float = DEFAULT_POLL_S) -> WorkerSeat:
        """A new seat, in an unlinked temporary file (nothing is left behind, whatever happens)."""
        return cls(tempfile.TemporaryFile(prefix="sportapp-seat-"), poll_s=poll_s)

    def fileno(self) -> int:
        """The seat's file descriptor: what a forked worker inherits, what another process is given."""
        return self._file.fileno()

    def take(self, stopped: Stopper) -> bool:
        """Wait until this process holds the seat (True), or ``stopped`` is set or the seat closed."""
        while True:
            with self._in_process:
                if self._file.closed:
                    return False
                try:
                    fcntl.lockf(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SEAT)
                    return True
                except OSError as error:
                    if error.errno not in _HELD:
                        raise
            if stopped.wait(self._poll_s):
                return False

    def leave(self) -> None:
        """Give the seat up (a process that exits gives it up anyway; so does :meth:`close`)."""
        with self._in_process:
            if not self._file.closed:
                fcntl.lockf(self._file.fileno(), fcntl.LOCK_UN, 1, _SEAT)

    def publish(self, record: bytes) -> None:
        """Replace the record every worker reads (at most MAX_RECORD_BYTES)."""
        if len(record) > MAX_RECORD_BYTES:
            raise ValueError(f"a seat's record holds {MAX_RECORD_BYTES} bytes, not {len(record)}")
        with self._record_locked(fcntl.LOCK_EX) as fd:
            if fd is not None:
                os.pwrite(fd, _LENGTH.pack(len(record)) + record, 0)

    def latest(self) -> bytes | None:
        """The record last published by any holder; None while none has published yet."""
        with self._record_locked(fcntl.LOCK_SH) as fd:
            if fd is None:
                return None
            stored = os.pread(fd, _LENGTH.size + MAX_RECORD_BYTES, 0)
        if len(stored) < _LENGTH.size:
            return None
        (length,) = _LENGTH.unpack_from(stored)
        return stored[_LENGTH.size : _LENGTH.size + length]

    def close(self) -> None:
        """Close the file (and so leave the seat)."""
        with self._in_process:
            self._file.close()

    @contextlib.contextmanager
    def _record_locked(self, mode: int) -> Iterator[int | None]:
        """The descriptor with the record locked in ``mode``, None once closed."""
        with self._in_process:
            if self._file.closed:
                yield None
                return
            fd = self._file.fileno()
            fcntl.lockf(fd, mode, 1, _RECORD)
            try:
                yield fd
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, _RECORD)


# The seat gunicorn's master made for this instance, inherited by its workers.
_shared: WorkerSeat | None = None


def share_with_workers() -> WorkerSeat:
    """Make this instance's seat (once: a reload keeps it); call it in gunicorn's master, before
    it forks any worker."""
    global _shared
    if _shared is None:
        _shared = WorkerSeat.create()
    return _shared


def shared_seat() -> WorkerSeat | None:
    """The seat gunicorn's master shared with this worker; None in a process on its own."""
    return _shared

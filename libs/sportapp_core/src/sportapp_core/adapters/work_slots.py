"""A bounded stage of work that knows how fast it drains: what admission predicts waits from."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class WorkSlots:
    """At most ``slots`` jobs at once; how long one holds its slot, and how often one finishes.

    A service whose throughput one stage bounds (registro: password hashing, one hash per core)
    can tell from it how long a newcomer would wait: it starts once all but ``slots - 1`` of the
    jobs ahead of it have finished, and while jobs queue, one finishes every :attr:`interval_s`.
    That interval is measured, not derived from a job's length: on a machine whose cores are also
    busy with other work (refusing a flood, serving reads), jobs finish less often than
    ``slots`` per job length, and the predicted waits grow with it.

    A job runs either in its caller's thread (:meth:`held`) or on one of the stage's own threads,
    one per slot (:meth:`run`). The latter is for jobs that allocate much memory: freed by one
    thread, glibc's malloc keeps it in that thread's arena, where a thread of the same few finds it
    again; registro's 128 request threads hashing in turn each faulted argon2's 19 MiB back in,
    on up to 8 arenas a core (measured, 2 hashes at a time: 20.3-20.6 ms of CPU a hash and about
    300 page faults, against 19.3-19.5 ms and none on 2 threads of their own).
    """

    def __init__(
        self,
        slots: int,
        *,
        job_s: float,  # a guess, until the first job is timed
        smoothing: float = 0.2,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if slots < 1:
            raise ValueError("there must be at least one slot")
        if job_s <= 0 or not 0 < smoothing <= 1:
            raise ValueError("job_s must be positive and smoothing in (0, 1]")
        self.slots = slots
        self._job_s = job_s
        self._interval_s = job_s / slots
        self._smoothing = smoothing
        self._clock = clock
        self._free = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._waiting = 0
        # When the last job finished with others waiting (the stage saturated), if it did.
        self._last_saturated: float | None = None
        # Totals since start: jobs done, and the CPU time their threads spent in them.
        self.jobs = 0
        self.cpu_s = 0.0
        # Told in the job's caller's thread once it has left its slot (see :meth:`when_job_done`).
        self._job_done_listeners: list[Callable[[], None]] = []
        # Made only as run() needs them, kept for good: what a job allocated stays with them.
        self._threads = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="work-slot")

    @property
    def job_s(self) -> float:
        """How long a job holds its slot, on recent average."""
        return self._job_s

    @property
    def interval_s(self) -> float:
        """How often a job finishes while jobs wait, on recent average (at best job_s / slots)."""
        return max(self._interval_s, self._job_s / self.slots)

    def predicted_wait_s(self, ahead: int) -> float:
        """How long a job would wait for a slot with ``ahead`` jobs before it (running or waiting)."""
        return max(0, ahead - self.slots + 1) * self.interval_s

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold a slot for the block (waiting for one if none is free), timing the hold."""
        self._take_slot()
        started, cpu_started = self._clock(), time.thread_time()
        try:
            yield
        finally:
            self._leave_slot(self._clock() - started, time.thread_time() - cpu_started)

    def run(self, job: Callable[[], T]) -> T:
        """Run ``job`` in a slot (waiting for one if none is free) on one of the stage's own
        threads, and return what it returns or raise what it raises; the caller waits."""
        self._take_slot()
        started, cpu_s = self._clock(), 0.0
        try:
            # A slot held means a thread free: never more jobs on them than threads.
            result, cpu_s = self._threads.submit(_timed, job).result()
            return result
        finally:
            self._leave_slot(self._clock() - started, cpu_s)

    def _take_slot(self) -> None:
        with self._lock:
            self._waiting += 1
        self._free.acquire()
        with self._lock:
            self._waiting -= 1

    def _leave_slot(self, job_s: float, cpu_s: float) -> None:
        self.record(job_s, cpu_s=cpu_s)
        self._free.release()
        for listener in self._job_done_listeners:
            listener()

    def when_job_done(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every job once its slot is free, in the thread that asked for the
        job (:meth:`held`'s, or :meth:`run`'s caller, not the slot's thread): admission keeps each
        request's state in its thread."""
        self._job_done_listeners.append(listener)

    def record(self, job_s: float, *, cpu_s: float = 0.0) -> None:
        """Count a job done (and its CPU time), and fold its length into the averages: the first
        replaces the guess. Between two jobs that finished with others waiting, the stage was
        saturated all along: the time between them is a sample of how often jobs finish."""
        finished = self._clock()
        with self._lock:
            if self.jobs == 0:
                self._job_s = job_s
            else:
                self._job_s += self._smoothing * (job_s - self._job_s)
            saturated = self._waiting > 0
            if saturated and self._last_saturated is not None:
                sample = finished - self._last_saturated
                self._interval_s += self._smoothing * (sample - self._interval_s)
            self._last_saturated = finished if saturated else None
            self.jobs += 1
            self.cpu_s += cpu_s


def _timed(job: Callable[[], T]) -> tuple[T, float]:
    """``job``'s result and the CPU time of the thread that ran it (an exception goes through)."""
    cpu_started = time.thread_time()
    result = job()
    return result, time.thread_time() - cpu_started

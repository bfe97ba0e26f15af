"""A bounded stage of work that knows how fast it drains: what admission predicts waits from."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class WorkSlots:
    """At most ``slots`` jobs at once; how long one holds its slot, and how often one finishes.

    A service whose throughput one stage bounds (registro: password hashing, one hash per core)
    can tell from it how long a newcomer would wait: it starts once all but ``slots - 1`` of the
    jobs ahead of it have finished, and while jobs queue, one finishes every :attr:`interval_s`.
    That interval is measured, not derived from a job's length: on a machine whose cores are also
    busy with other work (refusing a flood, serving reads), jobs finish less often than
    ``slots`` per job length, and the predicted waits grow with it.
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
        # Told in the job's own thread once it has left its slot (see :meth:`when_job_done`).
        self._job_done_listeners: list[Callable[[], None]] = []

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
        with self._lock:
            self._waiting += 1
        self._free.acquire()
        with self._lock:
            self._waiting -= 1
        started, cpu_started = self._clock(), time.thread_time()
        try:
            yield
        finally:
            self.record(self._clock() - started, cpu_s=time.thread_time() - cpu_started)
            self._free.release()
            for listener in self._job_done_listeners:
                listener()

    def when_job_done(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every job, in the thread that ran it, once its slot is free."""
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

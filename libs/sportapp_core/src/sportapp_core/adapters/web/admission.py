"""Admission control: a bound on the requests of one kind that a process works on at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sportapp_core.services.errors import Overloaded


class AdmissionLimit:
    """At most ``limit`` requests at once; the next one is refused at once (503), not queued.

    gunicorn's gthread worker hands every request to one pool of threads, first come first served.
    If registrations could take every thread, ``/ping`` would wait behind them and the monitor
    would take a busy instance for a dead one. Keeping the limit below the thread count leaves
    threads for pings, health checks and metrics however many registrations arrive.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the admission limit must be at least 1")
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Hold one slot for the duration of the block; raise :class:`Overloaded` if none is free."""
        if not self._slots.acquire(blocking=False):
            raise Overloaded()
        try:
            yield
        finally:
            self._slots.release()

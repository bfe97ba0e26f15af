"""Restarting fallen registro instances, with a back-off for one that keeps dying."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sportapp_monitor.metrics import MonitorMetrics
from sportapp_ops.event_log import EventLog

logger = logging.getLogger(__name__)


@dataclass
class RestartBook:
    """How often an instance was restarted lately, to back off when it keeps dying."""

    attempts: int = 0
    in_progress: bool = False
    finished_at: float = 0.0
    up_since: float | None = None


class Restarter:
    """Restarts an instance the monitor saw go down, each in a thread of its own.

    The first restart is immediate; one that did not bring the instance up (it crashes again at
    start) is followed, once ``grace_s`` has passed, by another after a delay that doubles from
    ``backoff_s`` up to ``backoff_max_s``. An instance up for ``stable_after_s`` starts afresh.
    """

    def __init__(
        self,
        names: Iterable[str],
        restart: Callable[[str], None] | None,
        *,
        events: EventLog,
        metrics: MonitorMetrics,
        stop: threading.Event,
        backoff_s: float,
        backoff_max_s: float,
        grace_s: float,
        stable_after_s: float,
    ) -> None:
        self.books = {name: RestartBook() for name in names}
        self._restart = restart
        self._events = events
        self._metrics = metrics
        self._stop = stop
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._grace_s = grace_s
        self._stable_after_s = stable_after_s
        self._threads = ThreadPoolExecutor(max_workers=max(1, len(self.books)), thread_name_prefix="restart")

    def went_down(self, name: str) -> None:
        """``name`` was seen going down: restart it (after its back-off)."""
        self.books[name].up_since = None
        self._schedule(name)

    def came_up(self, name: str, now: float) -> None:
        """``name`` was seen coming up."""
        self.books[name].up_since = now

    def tick(self, now: float, is_down: Callable[[str], bool]) -> None:
        """Once a round of the loop: forget the back-off of instances up long enough, and restart
        again the ones a restart did not bring up."""
        for name, book in self.books.items():
            if book.up_since is not None and now - book.up_since >= self._stable_after_s:
                book.attempts = 0
            if (
                is_down(name)
                and not book.in_progress
                and book.finished_at
                and now - book.finished_at >= self._grace_s
            ):
                self._schedule(name)

    def attempts(self, name: str) -> int | None:
        """Restarts of ``name`` since it was last stable; None for a target never restarted here."""
        book = self.books.get(name)
        return None if book is None else book.attempts

    def close(self) -> None:
        """Drop the restarts not begun; one under way finishes in its thread."""
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _schedule(self, name: str) -> None:
        book = self.books[name]
        if book.in_progress:
            return
        if self._restart is None:
            self._events.record("restart_unavailable", target=name)
            book.finished_at = time.monotonic()
            return
        delay = 0.0 if book.attempts == 0 else min(
            self._backoff_max_s, self._backoff_s * 2 ** (book.attempts - 1)
        )
        book.attempts += 1
        book.in_progress = True
        self._threads.submit(self._perform, name, delay, book.attempts)

    def _perform(self, name: str, delay: float, attempt: int) -> None:
        book = self.books[name]
        try:
            if delay and self._stop.wait(delay):
                return
            self._events.record("restart_issued", target=name, attempt=attempt, delay_s=delay)
            self._metrics.restarts.labels(name).inc()
            assert self._restart is not None
            self._restart(name)
            self._events.record("restart_done", target=name, attempt=attempt)
        except Exception as error:  # a failed restart is retried after the grace period
            self._events.record("restart_failed", target=name, detail=repr(error)[:300])
            logger.exception("restart of %s failed", name)
        finally:
            book.finished_at = time.monotonic()
            book.in_progress = False

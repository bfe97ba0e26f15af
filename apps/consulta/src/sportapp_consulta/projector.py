"""The projection's loop on a daemon thread of the worker process, with a clean way to stop it."""

from __future__ import annotations

import threading

from sportapp_consulta.projector_seat import ProjectorSeat
from sportapp_core.ports import ProjectionStatus
from sportapp_core.services.projection import Projector


class ProjectorThread:
    """Waits for the instance's projector seat, then runs :meth:`Projector.run` until :meth:`stop`
    (:mod:`sportapp_consulta.projector_seat`).

    Daemon: a worker that exits must not wait for a read of the feed in flight. Killing it mid-batch is
    safe, the batch's transaction rolls back and the next round starts from the stored position.
    """

    def __init__(self, projector: Projector, seat: ProjectorSeat) -> None:
        self.projector = projector
        self._seat = seat
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"projector-{projector.name}", daemon=True
        )

    @property
    def status(self) -> ProjectionStatus:
        """This worker's projector's latest status (the instance's is the seat's: ``seat.latest()``)."""
        return self.projector.status

    def start(self) -> None:
        """Wait for the seat, then project, on the thread."""
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> bool:
        """Ask the loop to stop and wait up to ``timeout_s`` (a pull in flight ends first); stopped?"""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        """Whether the thread still runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        if not self._seat.take(self._stopped):
            return
        # A worker that takes over from a dead holder carries on from what it published last:
        # the instance caught up once, and stays ready on its views while the feed is down.
        published = self._seat.latest()
        if published is not None:
            self.projector.carry_on_from(published)
        try:
            self.projector.run(self._stopped)
        finally:
            self._seat.leave()

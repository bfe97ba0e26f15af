"""The projection's loop on a daemon thread of the worker process, with a clean way to stop it."""

from __future__ import annotations

import threading

from sportapp_core.ports import ProjectionStatus
from sportapp_core.services.projection import Projector


class ProjectorThread:
    """Runs :meth:`Projector.run` on a daemon thread until :meth:`stop`.

    Daemon: a worker that exits must not wait for a read of the feed in flight. Killing it mid-batch is
    safe, the batch's transaction rolls back and the next round starts from the stored position.
    """

    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=projector.run, args=(self._stopped,), name=f"projector-{projector.name}", daemon=True
        )

    @property
    def status(self) -> ProjectionStatus:
        """The projector's latest status."""
        return self.projector.status

    def start(self) -> None:
        """Start projecting."""
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

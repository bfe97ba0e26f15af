"""What every long-running part needs of its surroundings: the time, and a stop signal."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Tells the time; faked in tests."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class Stopper(Protocol):
    """A stop signal that can be waited on with a timeout (``threading.Event`` is one)."""

    def is_set(self) -> bool:
        """Whether stopping was asked for."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to ``timeout`` s, waking early if stopping is asked for; return :meth:`is_set`."""
        ...

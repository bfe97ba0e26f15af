"""The system clock."""

from __future__ import annotations

from datetime import datetime, timezone


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        return datetime.now(timezone.utc)

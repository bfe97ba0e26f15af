"""The monitor's append-only event log (JSON lines): written by the monitor, read by the experiment."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


class EventLog:
    """Appends one JSON object a line, with wall-clock and monotonic timestamps, and keeps the
    newest entries in memory for the status page.

    ``t_mono`` is ``time.monotonic()``: on Linux one clock for every process, so the experiment can
    subtract the instant it injected a fault from the instant the monitor saw it.
    """

    def __init__(self, path: Path, keep: int = 50) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._recent: deque[dict[str, Any]] = deque(maxlen=keep)

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append ``event`` with ``fields``; return the entry written."""
        entry = {
            "t_wall": datetime.now(timezone.utc).isoformat(),
            "t_unix": time.time(),
            "t_mono": time.monotonic(),
            "event": event,
            **fields,
        }
        line = json.dumps(entry, separators=(",", ":"), default=str)
        with self._lock:
            with self.path.open("a") as handle:
                handle.write(line + "\n")
            self._recent.append(entry)
        return entry

    def recent(self) -> list[dict[str, Any]]:
        """The newest entries, oldest first."""
        with self._lock:
            return list(self._recent)


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every entry of an event log (a torn last line, from a killed monitor, is skipped)."""
    entries: list[dict[str, Any]] = []
    if not path.exists():
        return entries
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries

"""Whether the stack is redundant again, as its monitor reports it: both registro instances up and
ready, no switch under way, and the instance the monitor's policy wants taking the registrations.

The experiment waits for it before its report, the benchmarks before each trial, the tests before
and after each fault: one reading of the monitor's ``/status`` for all of them.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from sportapp_stack.config import StackConfig

PRIMARY, BACKUP = "registro-primary", "registro-backup"
INSTANCES = (PRIMARY, BACKUP)


class NotRedundant(TimeoutError):
    """The stack did not become redundant in time; ``last`` is the last status read (or empty)."""

    def __init__(self, message: str, last: dict[str, Any]) -> None:
        super().__init__(message)
        self.last = last


def monitor_status(config: StackConfig, timeout_s: float = 2.0) -> dict[str, Any]:
    """The monitor's ``/status``."""
    url = config.url(config.monitor_port) + "/status"
    return dict(requests.get(url, timeout=timeout_s).json())


def is_redundant(status: dict[str, Any], active: str | None = None) -> bool:
    """Both instances up and ready, no switch under way, and ``active`` taking the registrations;
    ``active=None`` means the one the monitor's policy wants: the primary with fail-back on,
    either instance without it (the restarted one is then the standby)."""
    if active is None and status.get("settings", {}).get("fail_back"):
        active = PRIMARY
    targets = status["targets"]
    return (
        (active is None or status["active"] == active)
        and not status["switching"]
        and all(targets[name]["state"] == "up" and targets[name]["ready"] for name in INSTANCES)
    )


def wait_redundant(
    config: StackConfig, *, active: str | None = None, timeout_s: float = 60.0
) -> dict[str, Any]:
    """The monitor's status once :func:`is_redundant`; :class:`NotRedundant` after ``timeout_s``.
    A monitor that does not answer (restarting, say) is asked again."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while True:
        try:
            last = monitor_status(config, timeout_s=1.0)
            if is_redundant(last, active):
                return last
        except (requests.RequestException, ValueError, KeyError):
            pass
        if time.monotonic() >= deadline:
            raise NotRedundant(f"not redundant with {active or 'either'} active after {timeout_s:g} s", last)
        time.sleep(0.2)

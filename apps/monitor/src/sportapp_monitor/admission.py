"""The gateway's bound on registrations in flight, lifted while db is away and set again after.

The bound (nginx.conf's ``limit_conn``) is sized from what registro's CPU serves in a fraction of
a second, so that a flood is shed cheaply at the gateway. While db restarts, registrations wait
for db, not for CPU: registro holds each one until its resend deadline, and a bound sized for CPU
work would refuse the ones that arrive meanwhile although registro could have served every one
of them once db is back. So the monitor, which sees db go away first, lifts the bound then (registro's
own limit on requests at once still holds) and sets it again when db is back.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from sportapp_core.health import TargetState
from sportapp_monitor.metrics import MonitorMetrics
from sportapp_ops.event_log import EventLog
from sportapp_ops.nginx import Nginx, render_admission

logger = logging.getLogger(__name__)


class GatewayAdmission:
    """Owns the rendered admission file: whether NGINX bounds registrations in flight."""

    def __init__(self, *, nginx: Nginx, template: Path, admission_file: Path, events: EventLog) -> None:
        self._nginx = nginx
        self._template = template
        self._file = admission_file
        self._events = events

    def set_bounded(self, bounded: bool, *, reason: str) -> None:
        """Make the file say ``bounded`` and reload NGINX, even if the file says so already: a
        monitor killed between writing the file and the reload left NGINX with the other one.
        Raises :class:`~sportapp_ops.nginx.NginxConfigError` if ``nginx -t`` refuses the
        new file (the old one then stays, and NGINX keeps its configuration)."""
        self._nginx.replace_config(self._file, render_admission(self._template, bounded=bounded))
        self._nginx.reload()
        self._events.record("admission_bounded" if bounded else "admission_unbounded", reason=reason)


class Admission(Protocol):
    """The gateway's bound on registrations in flight (:class:`GatewayAdmission`)."""

    def set_bounded(self, bounded: bool, *, reason: str) -> None:
        """Bound (True) or lift the bound (False); raise if the gateway refuses the change."""
        ...


class AdmissionFollower:
    """Makes the gateway's admission follow db's state, as the monitor's trackers see it.

    The loop thread tells it how db went down or came back (:meth:`db_changed`) and asks it, once a
    round, to apply what that state wants (:meth:`follow`). The change runs in a thread of its own:
    a switch waiting to see its generation live must not delay lifting the bound while db restarts.
    A change that failed is retried a second later. The first wish is applied whatever the file
    says (a monitor killed between writing it and reloading left NGINX with the other one).
    """

    def __init__(
        self, admission: Admission, *, events: EventLog, metrics: MonitorMetrics, lift_max_s: float
    ) -> None:
        self._admission = admission
        self._events = events
        self._metrics = metrics
        self._lift_max_s = lift_max_s
        self._lock = threading.Lock()
        # What was last applied (None: nothing yet), whether a change is under way, and when one
        # last failed.
        self._applied: bool | None = None
        self._pending = False
        self._failed_at = -math.inf
        self._db_down_since: float | None = None
        self._db_went_down_refusing = False
        self._changes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="admission")

    def db_changed(self, state: TargetState, now: float, *, refused: bool) -> None:
        """db's tracker moved to ``state``; ``refused``: its last miss was a refused connection.

        How db went down decides the admission while it stays down (the misses after it, while
        db starts again, are timeouts: its socket is back, its worker not).
        """
        down = state is TargetState.DOWN
        with self._lock:
            self._db_down_since = now if down else None
            self._db_went_down_refusing = down and refused

    def wanted(self, db_state: TargetState, now: float) -> tuple[bool, str] | None:
        """Whether the gateway should bound registrations in flight now, and why; None to leave it.

        Unbounded only while db is down because it refuses connections (its process is gone: it
        restarts) and for at most ``lift_max_s``: a db that is merely slow (timeouts, as when the
        machine is flooded) keeps the bound that sheds the flood, and one away for longer than
        registro would hold a registration gets the bound back, so that newcomers are refused at
        the gateway instead of being hashed for nothing. A db never seen yet leaves it alone.
        """
        if db_state is TargetState.UNKNOWN:
            return None
        if db_state is TargetState.UP:
            return True, "db up"
        if not self._db_went_down_refusing:
            return True, "db down, but answering connections (slow, not restarting)"
        if self._db_down_since is not None and now - self._db_down_since > self._lift_max_s:
            return True, f"db down for more than {self._lift_max_s:g} s"
        return False, "db down (refused): restarting"

    def follow(self, db_state: TargetState, now: float) -> None:
        """Start applying the admission db's state wants, unless it is applied or under way."""
        with self._lock:
            wanted = self.wanted(db_state, now)
            if (
                wanted is None
                or wanted[0] is self._applied
                or self._pending
                or now - self._failed_at < 1.0
            ):
                return
            self._pending = True
        self._changes.submit(self._apply, *wanted)

    def close(self) -> None:
        """Wait for a change under way, then stop."""
        self._changes.shutdown(wait=True)

    def _apply(self, bounded: bool, reason: str) -> None:
        try:
            self._admission.set_bounded(bounded, reason=reason)
        except Exception as error:  # the monitor must outlive a refused or failed reload
            self._events.record(
                "alert", message="the gateway's admission could not follow db", detail=repr(error)[:500]
            )
            logger.exception("admission change failed")
            with self._lock:
                self._pending = False
                self._failed_at = time.monotonic()
            return
        self._metrics.reloads.inc()
        with self._lock:
            self._applied = bounded
            self._pending = False

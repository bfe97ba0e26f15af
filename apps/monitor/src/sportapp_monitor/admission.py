"""The gateway's bound on registrations in flight, lifted while db is away and set again after.

The bound (nginx.conf's ``limit_conn``) is sized from what registro's CPU serves in a fraction of
a second, so that a flood is shed cheaply at the gateway. While db restarts, registrations wait
for db, not for CPU: registro holds each one until its resend deadline, and a bound sized for CPU
work would refuse the ones that arrive meanwhile although registro could have served every one
of them once db is back. So the monitor, which sees db go away first, lifts the bound then (registro's
own limit on requests at once still holds) and sets it again when db is back.
"""

from __future__ import annotations

from pathlib import Path

from sportapp_ops.event_log import EventLog
from sportapp_ops.nginx import Nginx, render_admission


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

"""Passive redundancy at the gateway: rewrite NGINX's registro upstream, reload, and see it live."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

import requests

from sportapp_ops.event_log import EventLog
from sportapp_ops.nginx import (
    Instance,
    Nginx,
    UpstreamRoute,
    read_route,
    render_upstream,
)

GENERATION_HEADER = "X-Upstream-Generation"


class SwitchNotSeenLive(Exception):
    """The new route is written and NGINX was told to reload, but no answer through the gateway
    carried its generation in time: whether the gateway serves it is not known."""

    def __init__(self, route: UpstreamRoute) -> None:
        super().__init__(f"generation {route.generation} not seen live")
        self.route = route


class Switch(Protocol):
    """Changes where the gateway routes (see :class:`~sportapp_monitor.upstream.UpstreamSwitch`)."""

    def adopt(self, default_active: str, default_standby: str) -> UpstreamRoute:
        """The route the gateway has now."""
        ...

    def switch(self, current: UpstreamRoute, to: str) -> UpstreamRoute:
        """Route to ``to`` and return the new, live route; :class:`SwitchNotSeenLive` when it was
        written but never seen served."""
        ...


class UpstreamSwitch:
    """Owns the rendered registro upstream file: reads it on start, rewrites it on a switch."""

    def __init__(
        self,
        *,
        nginx: Nginx,
        template: Path,
        upstream_file: Path,
        gateway_url: str,
        instances: dict[str, Instance],
        masking: bool,
        events: EventLog,
        confirm_timeout_s: float = 5.0,
    ) -> None:
        self._nginx = nginx
        self._template = template
        self._upstream_file = upstream_file
        self._probe_url = gateway_url.rstrip("/") + "/user-commands/users/register"
        self._instances = instances
        self._masking = masking
        self._events = events
        self._confirm_timeout_s = confirm_timeout_s
        self._session = requests.Session()
        self._session.trust_env = False

    def adopt(self, default_active: str, default_standby: str) -> UpstreamRoute:
        """The route NGINX has now, read from the rendered file (never assumed).

        Only when there is no rendered file yet does the monitor write one, routing to
        ``default_active``.
        """
        found = read_route(self._upstream_file)
        if found is not None:
            generation, active, standby, masking = found
            route = UpstreamRoute(
                generation, self._instances[active], self._instances[standby], masking
            )
            self._events.record(
                "route_adopted", active=active, standby=standby, generation=generation
            )
            return route
        route = UpstreamRoute(
            1, self._instances[default_active], self._instances[default_standby], self._masking
        )
        self._nginx.replace_config(self._upstream_file, render_upstream(self._template, route))
        self._events.record("route_initialised", active=default_active, generation=1)
        return route

    def switch(self, current: UpstreamRoute, to: str) -> UpstreamRoute:
        """Route to ``to`` (the other instance becomes the standby) and wait until NGINX serves it.

        Raises :class:`SwitchNotSeenLive` when no answer through the gateway carries the new
        generation within the confirmation timeout.

        Raises :class:`~sportapp_ops.nginx.NginxConfigError` if NGINX refuses the new
        file; the old file then stays in place and NGINX keeps its running configuration.
        """
        standby = current.active if current.active.name != to else current.standby
        route = UpstreamRoute(current.generation + 1, self._instances[to], standby, self._masking)
        self._nginx.replace_config(self._upstream_file, render_upstream(self._template, route))
        self._events.record("config_written", generation=route.generation, active=to)
        self._nginx.reload()
        signalled = time.monotonic()
        self._events.record("reload_signalled", generation=route.generation)
        if self._wait_live(route.generation):
            self._events.record(
                "config_live",
                generation=route.generation,
                active=to,
                after_reload_ms=round((time.monotonic() - signalled) * 1000, 1),
            )
            return route
        self._events.record(
            "alert",
            message=f"generation {route.generation} not seen live within "
            f"{self._confirm_timeout_s} s of the reload",
        )
        raise SwitchNotSeenLive(route)

    def _wait_live(self, generation: int) -> bool:
        # `nginx -s reload` (SIGHUP) returns before new workers serve: the switch is done only
        # when a request through the gateway carries the new generation.
        deadline = time.monotonic() + self._confirm_timeout_s
        while time.monotonic() < deadline:
            try:
                # A fresh connection each time: a kept-alive one may belong to an old worker,
                # which goes on answering with the old generation until it exits. A short
                # timeout: a probe that an old worker sent to a hung instance is not waited for.
                response = self._session.get(
                    self._probe_url, timeout=0.1, headers={"Connection": "close"}
                )
                if response.headers.get(GENERATION_HEADER) == str(generation):
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.01)
        return False

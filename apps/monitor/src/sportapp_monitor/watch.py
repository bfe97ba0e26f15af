"""The monitor's loop: ping/echo every target, decide, switch the gateway, restart the fallen."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sportapp_core.adapters.http.session import REFUSED
from sportapp_core.health import Decision, DecisionKind, EchoTracker, FailoverPolicy, TargetState
from sportapp_monitor.admission import Admission, AdmissionFollower
from sportapp_monitor.metrics import MonitorMetrics
from sportapp_monitor.probes import Probe, ProbeResult
from sportapp_monitor.restarts import Restarter
from sportapp_monitor.upstream import Switch, SwitchNotSeenLive
from sportapp_ops.event_log import EventLog
from sportapp_ops.nginx import NginxConfigError, UpstreamRoute

logger = logging.getLogger(__name__)

DEPENDENCY = "db"
# The active instance's readiness is asked every this many readiness rounds, the standby's every
# round: the standby's decides a switch, the active's is only shown (its failure is the ping's to
# detect), and each /health costs the instance and db a request.
ACTIVE_READINESS_EVERY = 5
_STATE_VALUE = {TargetState.UP: 1, TargetState.DOWN: 0, TargetState.UNKNOWN: -1}


@dataclass(frozen=True, slots=True)
class Readiness:
    """One ``/health`` answer."""

    target: str
    ready: bool


class Monitor:
    """Watches the registro instances (and their shared dependency, db) and acts on what it sees.

    One thread runs the loop and owns the trackers; switches and restarts run in threads of their
    own so that pinging never pauses; ``snapshot`` may be called from any thread.
    """

    def __init__(
        self,
        *,
        policy: FailoverPolicy,
        probes: dict[str, Probe],
        dependency: Probe,
        switch: Switch,
        restart: Callable[[str], None] | None,
        events: EventLog,
        metrics: MonitorMetrics,
        interval_s: float,
        admission: Admission | None = None,
        admission_lift_max_s: float = 5.0,
        rise: int,
        fall: int,
        watch_interval_s: float | None = None,
        start_grace_s: float = float("inf"),
        restart_backoff_s: float = 0.5,
        restart_backoff_max_s: float = 30.0,
        restart_grace_s: float = 5.0,
        stable_after_s: float = 10.0,
        readiness_interval_s: float = 0.0,
    ) -> None:
        self.policy = policy
        self._probes = probes
        self._dependency = dependency
        self._switch = switch
        self._events = events
        self._metrics = metrics
        # The instance that takes the registrations is pinged every ``interval_s``: its failure is
        # the one to detect fast; so is db's when the gateway's bound follows it (the sooner the
        # bound is lifted, the fewer registrations it refuses while db restarts). The standby is
        # watched every ``watch_interval_s``: its state decides where to switch, not when, and
        # each echo costs it CPU.
        self._interval_s = interval_s
        self._watch_interval_s = watch_interval_s or interval_s
        # Readiness (/health, which asks the instance's own dependencies) is dearer than an echo
        # and decides only which instance may take traffic, so it may be asked less often.
        self._readiness_interval_s = readiness_interval_s
        self._lock = threading.RLock()
        started = time.monotonic()
        self.trackers = {
            name: EchoTracker(
                name, rise=rise, fall=fall, started_at=started, start_grace_s=start_grace_s
            )
            for name in [*probes, DEPENDENCY]
        }
        self.ready = dict.fromkeys(probes, False)
        self.route: UpstreamRoute | None = None
        self.switching = False
        self.decision: Decision | None = None
        self.last_loop_at = 0.0
        self._stop = threading.Event()
        # Pings overlap (one that waits for its timeout must not delay the next): they run on a
        # pool, and post what they saw on a queue the loop reads, which costs the loop less per
        # echo than waiting on the pool's futures.
        self._pings = ThreadPoolExecutor(max_workers=4 * (len(probes) + 1), thread_name_prefix="ping")
        self._results: queue.SimpleQueue[ProbeResult | Readiness | None] = queue.SimpleQueue()
        self._actions = ThreadPoolExecutor(max_workers=1, thread_name_prefix="switch")
        # The gateway's bound on registrations in flight, following db's state.
        self._admission = (
            None if admission is None
            else AdmissionFollower(admission, events=events, metrics=metrics, lift_max_s=admission_lift_max_s)
        )
        self.restarts = Restarter(
            probes, restart, events=events, metrics=metrics, stop=self._stop,
            backoff_s=restart_backoff_s, backoff_max_s=restart_backoff_max_s,
            grace_s=restart_grace_s, stable_after_s=stable_after_s,
        )

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Watch until :meth:`stop` is called."""
        route = self._switch.adopt(self.policy.primary, self.policy.backup)
        with self._lock:
            self.route = route
        self._show_route(route)
        self._events.record(
            "monitor_started", active=route.active.name, generation=route.generation,
            masking=route.masking,
        )
        now = time.monotonic()
        next_ping = dict.fromkeys([*self._probes, DEPENDENCY], now)
        next_readiness = now
        readiness_round = 0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                self.last_loop_at = now
                self._send_due_pings(next_ping, now)
                if now >= next_readiness:
                    self._ask_readiness(active_too=readiness_round % ACTIVE_READINESS_EVERY == 0)
                    readiness_round += 1
                    next_readiness = now + self._readiness_interval_s
                remaining = max(0.0, min(*next_ping.values(), next_readiness) - time.monotonic())
                for result in self._arrived(remaining):
                    self._handle(result)
                self._act()
        finally:
            self._pings.shutdown(wait=False, cancel_futures=True)
            self._actions.shutdown(wait=True)
            if self._admission is not None:
                self._admission.close()
            self.restarts.close()

    def stop(self) -> None:
        """Ask the loop to end."""
        self._stop.set()
        self._results.put(None)  # wakes the loop now rather than at its next ping

    def _arrived(self, timeout_s: float) -> list[ProbeResult | Readiness]:
        """What the probes have posted: waits up to ``timeout_s`` for the first, takes the rest."""
        results: list[ProbeResult | Readiness] = []
        try:
            result = self._results.get(timeout=timeout_s)
            while True:
                if result is not None:
                    results.append(result)
                result = self._results.get_nowait()
        except queue.Empty:
            return results

    def _send_due_pings(self, next_ping: dict[str, float], now: float) -> None:
        with self._lock:
            active = self.route.active.name if self.route is not None else None
        for name, due in next_ping.items():
            if now < due:
                continue
            probe = self._dependency if name == DEPENDENCY else self._probes[name]
            self._pings.submit(self._ping, probe)
            fast = name == active or (name == DEPENDENCY and self._admission is not None)
            interval = self._interval_s if fast else self._watch_interval_s
            # On schedule, or from now if the loop fell behind: never a burst to catch up.
            next_ping[name] = max(due + interval, now)

    def _ask_readiness(self, *, active_too: bool) -> None:
        # Readiness of every live instance: the standby's decides a switch, the active's is shown,
        # and asked every round too until it is first seen ready (redundancy is reported, and
        # waited for, only once both are).
        with self._lock:
            active = self.route.active.name if self.route is not None else None
            asked = [
                probe for name, probe in self._probes.items()
                if self.trackers[name].state is TargetState.UP
                and (active_too or name != active or not self.ready.get(name, False))
            ]
        for probe in asked:
            self._pings.submit(self._readiness, probe)

    def _ping(self, probe: Probe) -> None:
        try:
            result = probe.ping()
        except Exception as error:  # a probe must never raise; if one does, it is a miss
            result = ProbeResult(probe.target, time.monotonic(), False, 0.0, type(error).__name__)
        self._results.put(result)

    def _readiness(self, probe: Probe) -> None:
        try:
            ready = probe.ready()
        except Exception:  # as above: a broken probe says "not ready"
            ready = False
        self._results.put(Readiness(probe.target, ready))

    def _handle(self, result: ProbeResult | Readiness) -> None:
        now = time.monotonic()
        if isinstance(result, Readiness):
            self._handle_readiness(result)
            return
        tracker = self.trackers[result.target]
        if result.echoed:
            self._metrics.echo_latency.labels(result.target).observe(result.latency_s)
            transition = tracker.echo(now, result.latency_s)
        else:
            self._metrics.misses.labels(result.target, result.reason).inc()
            self._events.record(
                "miss", target=result.target, reason=result.reason,
                latency_ms=round(result.latency_s * 1000, 1),
            )
            transition = tracker.miss(now, result.reason)
        if transition is None:
            return
        self._metrics.target_up.labels(result.target).set(_STATE_VALUE[transition.current])
        if transition.grace_expired:
            self._events.record("start_grace_expired", target=result.target, reason=transition.reason)
        self._events.record(
            transition.current.value, target=result.target, reason=transition.reason,
            first_miss_t_mono=tracker.first_miss_at,
        )
        if result.target == DEPENDENCY and self._admission is not None:
            self._admission.db_changed(
                transition.current, now, refused=tracker.last_miss_reason == REFUSED
            )
        if result.target not in self.restarts.books:
            return
        if transition.current is TargetState.DOWN:
            with self._lock:
                self.ready[result.target] = False
            self.restarts.went_down(result.target)
        elif transition.current is TargetState.UP:
            self.restarts.came_up(result.target, now)

    def _handle_readiness(self, result: Readiness) -> None:
        with self._lock:
            was_ready = self.ready.get(result.target, False)
            self.ready[result.target] = result.ready
        if result.ready and not was_ready:
            self._events.record("ready", target=result.target)

    def _act(self) -> None:
        now = time.monotonic()
        if self._admission is not None:
            self._admission.follow(self.trackers[DEPENDENCY].state, now)
        self.restarts.tick(now, lambda name: self.trackers[name].state is TargetState.DOWN)
        with self._lock:
            if self.switching or self.route is None:
                return
            states = {name: tracker.state for name, tracker in self.trackers.items()}
            decision = self.policy.decide(
                self.route.active.name,
                states,
                dict(self.ready),
                dependency_up=states[DEPENDENCY] is not TargetState.DOWN,
            )
            changed = self.decision is None or decision.reason != self.decision.reason
            self.decision = decision
            if decision.kind is DecisionKind.SWITCH:
                self.switching = True
        if changed:
            self._events.record("decision", action=decision.kind.value, reason=decision.reason)
        if decision.kind is DecisionKind.SWITCH:
            self._actions.submit(self._perform_switch, decision)

    # --- actions (in their own threads) --------------------------------------------------

    def _perform_switch(self, decision: Decision) -> None:
        with self._lock:
            current = self.route
        assert current is not None
        kind = "failback" if decision.failback else "failover"
        self._events.record(
            f"{kind}_started", source=current.active.name, to=decision.route_to,
            reason=decision.reason,
        )
        try:
            route, seen_live = self._switch.switch(current, decision.route_to), True
        except SwitchNotSeenLive as unconfirmed:
            # The upstream file names the new route and NGINX was told to reload: go on from it,
            # but say that the switch was not seen done instead of claiming it.
            route, seen_live = unconfirmed.route, False
        except NginxConfigError as error:
            self._events.record(
                "alert", message="nginx -t refused the new upstream; the old one stays",
                detail=str(error)[:500],
            )
            logger.error("upstream switch refused by nginx -t: %s", error)
            self._stop.wait(1.0)  # do not hammer nginx -t with the same broken template
            with self._lock:
                self.switching = False
            return
        except Exception as error:  # the monitor must outlive any one failed switch
            self._events.record("alert", message="upstream switch failed", detail=repr(error)[:500])
            logger.exception("upstream switch failed")
            self._stop.wait(1.0)
            with self._lock:
                self.switching = False
            return
        if seen_live:
            self._metrics.failovers.labels(kind).inc()
        self._metrics.reloads.inc()
        with self._lock:
            self.route = route
            self.switching = False
        self._show_route(route)
        outcome = "done" if seen_live else "unconfirmed"
        self._events.record(f"{kind}_{outcome}", active=route.active.name, generation=route.generation)

    # --- reporting --------------------------------------------------------------------------

    def _show_route(self, route: UpstreamRoute) -> None:
        for name in self._probes:
            self._metrics.active.labels(name).set(1 if name == route.active.name else 0)

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /status`` shows: targets, the route, the last decision and events."""
        with self._lock:
            route = self.route
            targets = {
                name: {
                    "state": tracker.state.value,
                    "ready": self.ready.get(name),
                    "last_echo_ms": None if tracker.last_latency_s is None
                    else round(tracker.last_latency_s * 1000, 2),
                    "consecutive_misses": tracker.consecutive_misses,
                    "consecutive_echoes": tracker.consecutive_echoes,
                    "last_miss_reason": tracker.last_miss_reason,
                    "restarts": self.restarts.attempts(name),
                }
                for name, tracker in self.trackers.items()
            }
            return {
                "active": route.active.name if route else None,
                "standby": route.standby.name if route else None,
                "generation": route.generation if route else None,
                "masking": route.masking if route else None,
                "switching": self.switching,
                "decision": None if self.decision is None else {
                    "action": self.decision.kind.value, "reason": self.decision.reason,
                },
                "targets": targets,
                "recent_events": [e for e in self._events.recent() if e["event"] != "miss"][-20:],
            }

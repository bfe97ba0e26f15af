"""Fault timings and incidents, from the fault instants and the monitor's events (pure functions).

The definitions (detection, away, failover, recovery, incidents, false failovers) are
:mod:`sportapp_lab.analysis`'s; this module measures them, that one assembles the report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sportapp_lab.records import RequestRecord

FALSE_FAILOVER_WINDOW_S = 5.0
# The monitor's events that count as incidents before the load or before the fault.
STARTUP_INCIDENTS = ("down", "restart_issued", "failover_started")


def detection_ms(fault: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> float | None:
    """From the fault to the monitor's first ``down`` of its target; ``None`` if never seen."""
    at = float(fault["t_mono"])
    downs = [
        float(e["t_mono"])
        for e in events
        if e.get("event") == "down" and e.get("target") == fault["target"] and float(e["t_mono"]) >= at
    ]
    return _ms(min(downs) - at) if downs else None


def away_ms(fault: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> float | None:
    """From the fault to the monitor's first ``up`` of its target after its ``down``; ``None`` if
    it was never seen down, or never came back."""
    at = float(fault["t_mono"])
    detected = detection_ms(fault, events)
    if detected is None:
        return None
    down_at = at + detected / 1000
    ups = [
        float(e["t_mono"])
        for e in events
        if e.get("event") == "up" and e.get("target") == fault["target"] and float(e["t_mono"]) > down_at
    ]
    return _ms(min(ups) - at) if ups else None


def failover_ms(fault: Mapping[str, Any], records: Sequence[RequestRecord]) -> float | None:
    """From the fault to the answer of the first successful registration another instance served."""
    at = float(fault["t_mono"])
    target = fault["target"]
    registrations = [r for r in records if r.kind == "register" and not r.invalid_email and r.ok]
    # Only an instance that was serving registrations can be failed over from.
    if not any(r.served_by == target and r.sent_at < at for r in registrations):
        return None
    others = [
        r.completed_at
        for r in registrations
        if r.sent_at >= at and r.served_by is not None and r.served_by != target
    ]
    return _ms(min(others) - at) if others else None


def service_restored_ms(
    fault: Mapping[str, Any], records: Sequence[RequestRecord], until: float = math.inf
) -> float | None:
    """From the fault to the first success after the last failure before ``until`` (0: none failed)."""
    at = float(fault["t_mono"])
    window = [r for r in records if r.was_sent and r.scheduled_at < until]
    failures = [r for r in window if not r.ok and r.completed_at >= at]
    if not failures:
        return 0.0
    last = max(failures, key=lambda r: r.scheduled_at)
    after = [r.completed_at for r in window if r.ok and r.scheduled_at > last.scheduled_at]
    return _ms(min(after) - at) if after else None


def recovery_ms(
    fault: Mapping[str, Any],
    records: Sequence[RequestRecord],
    events: Sequence[Mapping[str, Any]],
    until: float = math.inf,
) -> float | None:
    """Registro: fault to the faulted instance ready again after its ``down`` (redundancy
    restored); any other part: service restored."""
    at = float(fault["t_mono"])
    target = fault["target"]
    if str(target).startswith("registro"):
        downs = [
            float(e["t_mono"])
            for e in events
            if e.get("event") == "down" and e.get("target") == target and float(e["t_mono"]) >= at
        ]
        if not downs:
            return None
        ready = [
            float(e["t_mono"])
            for e in events
            if e.get("event") == "ready" and e.get("target") == target and float(e["t_mono"]) > min(downs)
        ]
        return _ms(min(ready) - at) if ready else None
    return service_restored_ms(fault, records, until)


def startup_incidents(events: Iterable[Mapping[str, Any]], load_started: float | None) -> int:
    """Monitor events that say something failed before the load began (0 for a clean start)."""
    if load_started is None:
        return 0
    return _incidents_between(events, -math.inf, load_started)


def incidents_before_fault(
    events: Iterable[Mapping[str, Any]], load_started: float | None, fault_at: float | None
) -> int:
    """Monitor events that say something failed while the load ran before any fault (0 expected)."""
    if load_started is None:
        return 0
    return _incidents_between(events, load_started, math.inf if fault_at is None else float(fault_at))


def _incidents_between(events: Iterable[Mapping[str, Any]], since: float, until: float) -> int:
    return sum(
        1
        for event in events
        if event.get("event") in STARTUP_INCIDENTS and since <= float(event["t_mono"]) < until
    )


def count_false_failovers(
    events: Sequence[Mapping[str, Any]],
    faults: Sequence[Mapping[str, Any]],
    window_s: float = FALSE_FAILOVER_WINDOW_S,
) -> int:
    """Failovers that no injected fault on the instance failed over from explains."""
    count = 0
    for event in events:
        if event.get("event") != "failover_started":
            continue
        at = float(event["t_mono"])
        source = event.get("source", event.get("target"))
        explained = any(
            fault["target"] == source and at - window_s <= float(fault["t_mono"]) <= at
            for fault in faults
        )
        count += not explained
    return count


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)

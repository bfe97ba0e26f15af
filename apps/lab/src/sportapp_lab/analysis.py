"""From the raw material of a run to the report dict, and the checks that decide the hypothesis.

Pure functions, no I/O: records (:class:`RequestRecord`), the monitor's events (dicts read from its
JSON-lines log), the fault instants the experiment injected, and the counts that the verification
step found in the stores. Every time is a ``t_mono`` (``time.monotonic()``), which on Linux is one
clock for every process, so the monitor's instants and the load generator's can be subtracted.

Definitions (all times in milliseconds from the fault instant):

- detection: the first ``down`` event of the faulted target at or after the fault;
- away: from the fault to the monitor's first ``up`` of the faulted target after that ``down``
  (how long the part did not echo: for db, how long registro had to hold registrations);
- failover: the first successful registration served by another instance than the faulted one,
  sent at or after the fault, up to the end of its answer (only for a target that served
  registrations before the fault: a registro instance);
- recovery: for a registro instance, redundancy restored: the monitor's first ``ready`` of the
  faulted instance after its ``down`` (restarted and able to take traffic again, as the standby
  or, with fail-back, before the switch back); for any other target, service restored: the end of
  the first successful request after the last failed one (0 when nothing failed, ``None`` when
  nothing succeeded after the last failure);
- phases: every request falls, by its scheduled instant, before the first fault, between it and
  that fault's recovery, or after the recovery; failures are counted per phase, so that a report
  says at a glance whether they came with the fault or from something else;
- startup incidents: ``down``, ``restart_issued`` and ``failover_started`` events before the load
  began (a stack that starts cleanly has none); incidents before the fault: the same events from
  the load's start to the first fault (to its end in a run without faults), which only load or
  the harness can explain;
- false failover: a ``failover_started`` not preceded, within a window (5 s), by a fault injected
  into the instance it fails over from; in a run without faults every failover is false.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from sportapp_lab.records import GENERATOR_SATURATED, RequestRecord

FALSE_FAILOVER_WINDOW_S = 5.0


def percentile(values: Iterable[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (0 < p <= 100) of ``values``; ``None`` when empty.

    Nearest rank returns a value that was observed, so a p99 of 40 requests is the slowest one
    rather than an interpolation between two requests that never took that long.
    """
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    rank = math.ceil(p / 100.0 * len(ordered))
    return ordered[max(rank, 1) - 1]


def latency_summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """p50, p95, p99, max and count of ``values`` (milliseconds)."""
    return {
        "p50": _round(percentile(values, 50)),
        "p95": _round(percentile(values, 95)),
        "p99": _round(percentile(values, 99)),
        "max": _round(max(values)) if values else None,
        "count": len(values),
    }


def build_report(
    records: Sequence[RequestRecord],
    *,
    scenario: str,
    masking: bool,
    events: Sequence[Mapping[str, Any]] = (),
    faults: Sequence[Mapping[str, Any]] = (),
    verification: Mapping[str, int | None] | None = None,
    read_model_lags_ms: Sequence[float] = (),
    parameters: Mapping[str, Any] | None = None,
    versions: Mapping[str, Any] | None = None,
    false_failover_window_s: float = FALSE_FAILOVER_WINDOW_S,
) -> dict[str, Any]:
    """The report of one run: availability, latency, fault timings, loss and duplication."""
    sent = [record for record in records if record.was_sent]
    registrations = [r for r in records if r.kind == "register" and not r.invalid_email]
    reads = [r for r in records if r.kind == "read"]
    invalid = [r for r in records if r.invalid_email]
    sent_registrations = [r for r in registrations if r.was_sent]
    ordered_faults = sorted(faults, key=lambda fault: float(fault["t_mono"]))
    fault_reports = [
        _fault_report(fault, records, events, _next_fault_at(ordered_faults, index))
        for index, fault in enumerate(ordered_faults)
    ]
    first_fault = fault_reports[0] if fault_reports else {}
    checked = dict(verification or {})
    acknowledged = checked.get("acknowledged")
    if acknowledged is None:
        acknowledged = sum(1 for r in registrations if r.ok)
    started = min((r.scheduled_at for r in records), default=None)
    ended = max((r.completed_at for r in records), default=None)
    failovers = [e for e in events if e.get("event") == "failover_started"]
    recovered_at = (
        float(first_fault["t_mono"]) + first_fault["recovery_ms"] / 1000
        if first_fault.get("recovery_ms") is not None
        else None
    )
    return {
        "scenario": scenario,
        "masking": masking,
        "started_t_mono": started,
        "started_t_unix": min((r.t_unix for r in records), default=None),
        "duration_s": _round(ended - started, 3) if started is not None and ended is not None else 0.0,
        "requests_total": len(records),
        "requests_ok": sum(1 for r in records if r.ok),
        "requests_failed": failure_causes(records),
        "registrations": _counts(registrations),
        "reads": _counts(reads),
        "availability": _ratio(registrations),
        "availability_overall": _ratio(records),
        "availability_reads": _ratio(reads),
        "latency_ms": latency_summary([r.latency_ms for r in sent_registrations]),
        "latency_ok_ms": latency_summary([r.latency_ms for r in sent_registrations if r.ok]),
        "read_latency_ms": latency_summary([r.latency_ms for r in reads if r.was_sent]),
        "detection_ms": first_fault.get("detection_ms"),
        "away_ms": first_fault.get("away_ms"),
        "failover_ms": first_fault.get("failover_ms"),
        "recovery_ms": first_fault.get("recovery_ms"),
        "service_restored_ms": first_fault.get("service_restored_ms"),
        "faults": fault_reports,
        "registrations_acknowledged": acknowledged,
        "registrations_lost": checked.get("lost"),
        "registrations_duplicated": checked.get("duplicated"),
        "registrations_stored_unacknowledged": checked.get("stored_unacknowledged"),
        "registrations_refused_but_stored": checked.get("refused_but_stored"),
        "registrations_id_mismatch": checked.get("acknowledged_id_mismatch"),
        "registrations_unverifiable": checked.get("acknowledged_unverifiable"),
        "read_model_lag_ms": {
            "p50": _round(percentile(read_model_lags_ms, 50)),
            "p99": _round(percentile(read_model_lags_ms, 99)),
            "max": _round(max(read_model_lags_ms)) if read_model_lags_ms else None,
            "count": len(read_model_lags_ms),
        },
        "failures_by_phase": failures_by_phase(
            registrations, first_fault.get("t_mono"), recovered_at
        ),
        "startup_incidents": startup_incidents(events, started),
        "incidents_before_fault": incidents_before_fault(events, started, first_fault.get("t_mono")),
        "failovers": len(failovers),
        "false_failovers": count_false_failovers(events, faults, false_failover_window_s),
        "failbacks": sum(1 for e in events if e.get("event") == "failback_started"),
        "monitor_events": dict(Counter(str(e.get("event")) for e in events)),
        "client_retries": sum(r.retries for r in records),
        "served_by": dict(Counter(r.served_by or "(none)" for r in sent_registrations)),
        "invalid_emails": {
            "sent": sum(1 for r in invalid if r.was_sent),
            "rejected_422": sum(1 for r in invalid if r.status == 422),
            "not_rejected": failure_causes(invalid),
        },
        "generator_saturated": sum(1 for r in records if r.error == GENERATOR_SATURATED),
        "requests_sent": len(sent),
        "parameters": dict(parameters or {}),
        "versions": dict(versions or {}),
    }


def failure_causes(records: Iterable[RequestRecord]) -> dict[str, Any]:
    """Failed requests by cause: ``{"total": n, "status": {"503": n}, "timeout": n, ...}``."""
    causes: dict[str, Any] = {"total": 0, "status": {}}
    statuses: Counter[str] = Counter()
    for record in records:
        if record.ok:
            continue
        causes["total"] += 1
        if record.error is not None:
            causes[record.error] = causes.get(record.error, 0) + 1
        elif record.status is not None:
            statuses[str(record.status)] += 1
    causes["status"] = dict(sorted(statuses.items()))
    return causes


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


def failures_by_phase(
    records: Iterable[RequestRecord], fault_at: float | None, recovered_at: float | None
) -> dict[str, Any]:
    """Requests and failures before the first fault, from it to its recovery, and after.

    Without a fault every request is in ``no_fault``; a fault never recovered from leaves no
    ``after_recovery``.
    """
    phases: dict[str, list[RequestRecord]] = {}
    for record in records:
        if fault_at is None:
            phase = "no_fault"
        elif record.scheduled_at < fault_at:
            phase = "before_fault"
        elif recovered_at is None or record.scheduled_at < recovered_at:
            phase = "fault_to_recovery"
        else:
            phase = "after_recovery"
        phases.setdefault(phase, []).append(record)
    return {
        phase: {"requests": len(members), "failed": failure_causes(members)}
        for phase, members in phases.items()
    }


STARTUP_INCIDENTS = ("down", "restart_issued", "failover_started")


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


# Checks of figures only the stores can give (the verification) ...
STORE_CHECKS = (
    "max_lost", "max_duplicated", "max_stored_unacknowledged", "max_refused_but_stored",
    "max_id_mismatch", "max_unverifiable",
)
# ... and only the monitor's events can give.
MONITOR_CHECKS = ("max_false_failovers", "max_startup_incidents", "max_incidents_before_fault")
# The report's figures from the monitor's events.
MONITOR_FIGURES = ("failovers", "false_failovers", "failbacks", "startup_incidents", "incidents_before_fault")


@dataclass(frozen=True)
class Expectations:
    """The thresholds the hypothesis is held to; ``None`` leaves a figure unchecked."""

    min_availability: float | None = 0.999
    max_lost: int | None = 0
    max_duplicated: int | None = 0
    # A registration stored while its client was told it failed (a 5xx, a timeout): the wrong answer
    # masking exists to prevent (the standby replays the key's 201). Expected of a run without it.
    max_stored_unacknowledged: int | None = 0
    max_refused_but_stored: int | None = 0
    max_id_mismatch: int | None = 0
    max_unverifiable: int | None = 0
    max_false_failovers: int | None = 0
    max_startup_incidents: int | None = 0
    max_incidents_before_fault: int | None = 0
    max_generator_saturated: int | None = 0
    max_detection_ms: float | None = None
    max_failover_ms: float | None = None
    max_recovery_ms: float | None = None
    max_p99_ms: float | None = None

    def answerable_from_clients_alone(self) -> Expectations:
        """These thresholds without the checks that need the stores or the monitor's events: what
        a client's record of a run (a JTL from elsewhere) can answer, and nothing it cannot."""
        return replace(self, **{name: None for name in STORE_CHECKS + MONITOR_CHECKS})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Expectations:
        """Build from a mapping of field names (e.g. parsed from the CLI or a TOML file)."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown expectations {sorted(unknown)}; known: {sorted(known)}")
        return cls(**dict(values))


def hypothesis_holds(
    report: Mapping[str, Any], expect: Expectations | Mapping[str, Any] | None = None
) -> list[str]:
    """The checks ``report`` fails against ``expect`` (default :class:`Expectations`); empty: it held."""
    if expect is None:
        expect = Expectations()
    elif not isinstance(expect, Expectations):
        expect = Expectations.from_mapping(expect)
    failed: list[str] = []

    def at_least(name: str, value: float | None, bound: float | None, what: str) -> None:
        if bound is None:
            return
        if value is None:
            failed.append(f"{name} was not measured ({what})")
        elif value < bound:
            failed.append(f"{name} {value:.6g} < {bound:.6g} ({what})")

    def at_most(name: str, value: float | None, bound: float | None, what: str) -> None:
        if bound is None:
            return
        if value is None:
            failed.append(f"{name} was not measured ({what})")
        elif value > bound:
            failed.append(f"{name} {value:.6g} > {bound:.6g} ({what})")

    at_least("availability", report.get("availability"), expect.min_availability,
             "share of registrations answered correctly")
    at_most("registrations_lost", report.get("registrations_lost"), expect.max_lost,
            "acknowledged but not stored")
    at_most("registrations_duplicated", report.get("registrations_duplicated"), expect.max_duplicated,
            "one registration stored more than once")
    at_most("registrations_stored_unacknowledged", report.get("registrations_stored_unacknowledged"),
            expect.max_stored_unacknowledged, "stored although the client saw a failure")
    at_most("registrations_refused_but_stored", report.get("registrations_refused_but_stored"),
            expect.max_refused_but_stored, "stored although the client was refused (4xx)")
    at_most("registrations_id_mismatch", report.get("registrations_id_mismatch"), expect.max_id_mismatch,
            "acknowledged with another user id than the one stored")
    at_most("registrations_unverifiable", report.get("registrations_unverifiable"),
            expect.max_unverifiable, "acknowledged without a recorded address to look up")
    at_most("false_failovers", report.get("false_failovers"), expect.max_false_failovers,
            "failovers without a fault")
    at_most("startup_incidents", report.get("startup_incidents"), expect.max_startup_incidents,
            "something failed before the load began: the stack did not start cleanly")
    at_most("incidents_before_fault", report.get("incidents_before_fault"),
            expect.max_incidents_before_fault,
            "down, restart or failover during the load before any fault")
    at_most("generator_saturated", report.get("generator_saturated"), expect.max_generator_saturated,
            "the load generator could not keep its schedule: the run is not evidence")
    at_most("latency_ms.p99", (report.get("latency_ms") or {}).get("p99"), expect.max_p99_ms,
            "registration latency from the schedule")
    if report.get("faults"):
        at_most("detection_ms", report.get("detection_ms"), expect.max_detection_ms,
                "fault to the monitor's down event")
        at_most("failover_ms", report.get("failover_ms"), expect.max_failover_ms,
                "fault to the first registration served elsewhere")
        at_most("recovery_ms", report.get("recovery_ms"), expect.max_recovery_ms,
                "fault to the instance ready again, or restored service")
    return failed


def _fault_report(
    fault: Mapping[str, Any],
    records: Sequence[RequestRecord],
    events: Sequence[Mapping[str, Any]],
    until: float,
) -> dict[str, Any]:
    return {
        "name": fault.get("name"),
        "target": fault["target"],
        "t_mono": float(fault["t_mono"]),
        "t_unix": fault.get("t_unix"),
        "detection_ms": detection_ms(fault, events),
        "away_ms": away_ms(fault, events),
        "failover_ms": failover_ms(fault, records),
        "recovery_ms": recovery_ms(fault, records, events, until),
        "service_restored_ms": service_restored_ms(fault, records, until),
    }


def _next_fault_at(ordered: Sequence[Mapping[str, Any]], index: int) -> float:
    return float(ordered[index + 1]["t_mono"]) if index + 1 < len(ordered) else math.inf


def _counts(records: Sequence[RequestRecord]) -> dict[str, int]:
    ok = sum(1 for r in records if r.ok)
    return {"total": len(records), "ok": ok, "failed": len(records) - ok}


def _ratio(records: Sequence[RequestRecord]) -> float | None:
    if not records:
        return None
    return sum(1 for r in records if r.ok) / len(records)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)

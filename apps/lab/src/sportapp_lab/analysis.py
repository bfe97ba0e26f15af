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
from typing import Any

from sportapp_lab.records import GENERATOR_SATURATED, RequestRecord
from sportapp_lab.timings import (
    FALSE_FAILOVER_WINDOW_S,
    away_ms,
    count_false_failovers,
    detection_ms,
    failover_ms,
    incidents_before_fault,
    recovery_ms,
    service_restored_ms,
    startup_incidents,
)

# The report's figures from the monitor's events.
MONITOR_FIGURES = ("failovers", "false_failovers", "failbacks", "startup_incidents", "incidents_before_fault")



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




def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)

"""The hypothesis: the thresholds a run is held to (:class:`Expectations`) and the checks of a
report against them (:func:`hypothesis_holds`). An empty list of failed checks: it held."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

# Checks of figures only the stores can give (the verification) ...
STORE_CHECKS = (
    "max_lost", "max_duplicated", "max_stored_unacknowledged", "max_refused_but_stored",
    "max_id_mismatch", "max_unverifiable",
)
# ... and only the monitor's events can give.
MONITOR_CHECKS = ("max_false_failovers", "max_startup_incidents", "max_incidents_before_fault")


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

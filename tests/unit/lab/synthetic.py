"""Synthetic runs for the experiment's unit tests: records and monitor events built by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sportapp_lab.records import RequestRecord

START = 1000.0  # t_mono of the first scheduled request
UNIX_OFFSET = 1_700_000_000.0 - START


def record(
    at: float,
    *,
    kind: str = "register",
    latency_ms: float = 20.0,
    status: int | None = 201,
    served_by: str | None = "registro-primary",
    error: str | None = None,
    retries: int = 0,
    invalid_email: bool = False,
) -> RequestRecord:
    """One request due ``at`` seconds after START."""
    scheduled = START + at
    return RequestRecord(
        kind="register" if kind == "register" else "read",
        scheduled_at=scheduled,
        sent_at=scheduled,
        t_unix=scheduled + UNIX_OFFSET,
        latency_ms=latency_ms,
        status=status,
        served_by=served_by,
        error=error,
        retries=retries,
        invalid_email=invalid_email,
    )


def steady_run(
    seconds: int = 30,
    rate: int = 10,
    outcome: Callable[[float], dict[str, Any]] | None = None,
) -> list[RequestRecord]:
    """Registrations at ``rate``/s for ``seconds``; ``outcome(t)`` overrides a request's fields."""
    records = []
    for i in range(seconds * rate):
        at = i / rate
        records.append(record(at, **(outcome(at) if outcome else {})))
    return records


def event(name: str, at: float, **fields: Any) -> dict[str, Any]:
    """A monitor event ``at`` seconds after START, as the monitor's JSON-lines log holds it."""
    return {"t_unix": START + at + UNIX_OFFSET, "t_mono": START + at, "event": name, **fields}


def fault(at: float, target: str = "registro-primary", name: str = "kill") -> dict[str, Any]:
    """A fault injected ``at`` seconds after START."""
    return {"name": name, "target": target, "t_mono": START + at, "t_unix": START + at + UNIX_OFFSET}


def primary_killed_at_10(t: float) -> dict[str, Any]:
    """Primary serves until 10 s; 10.0-10.5 s answers 502; the backup until failback at 20 s."""
    if t < 10.0 or t >= 20.0:
        return {}
    if t < 10.5:
        return {"status": 502, "served_by": None, "latency_ms": 300.0}
    return {"served_by": "registro-backup", "latency_ms": 30.0}


def failover_events() -> list[dict[str, Any]]:
    """The monitor's account of the same story."""
    return [
        event("monitor_started", -1.0, active="registro-primary"),
        event("miss", 10.2, target="registro-primary", reason="connection"),
        event("down", 10.4, target="registro-primary", reason="2 misses"),
        event("restart_issued", 10.45, target="registro-primary", attempt=1),
        event("failover_started", 10.5, source="registro-primary", to="registro-backup"),
        event("config_live", 10.6, generation=2, active="registro-backup"),
        event("failover_done", 10.6, active="registro-backup"),
        event("up", 15.0, target="registro-primary"),
        event("ready", 15.5, target="registro-primary"),
        event("failback_started", 19.8, source="registro-backup", to="registro-primary"),
        event("failback_done", 20.0, active="registro-primary"),
    ]


def clean_verification(acknowledged: int) -> dict[str, int]:
    """What the store verification reports for a run where every answer was right."""
    return {
        "acknowledged": acknowledged,
        "lost": 0,
        "duplicated": 0,
        "stored_unacknowledged": 0,
        "refused_but_stored": 0,
        "acknowledged_id_mismatch": 0,
        "acknowledged_unverifiable": 0,
    }

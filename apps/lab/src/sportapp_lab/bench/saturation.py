"""False failovers under saturation: registrations offered above what hashing allows, no fault.

The monitor must tell "busy" from "dead": with registro's cores saturated by hashing (and
registrations shed with 503 by its admission limit), every ping must still be echoed in time.
"""

from __future__ import annotations

import time
from collections import Counter

from sportapp_lab.bench.common import Figure, bench_stack
from sportapp_lab.capacity import step_figures
from sportapp_lab.load import run_load_sync
from sportapp_lab.workload import LoadConfig
from sportapp_ops.event_log import read_events

OVERLOAD = 1.5


def measure(*, bound: float, duration_s: float) -> list[Figure]:
    """Failovers and DOWN transitions while registrations come at 1.5x the hashing bound."""
    rate = round(bound * OVERLOAD, 1)
    with bench_stack() as stack:
        started = time.monotonic()
        records = run_load_sync(
            LoadConfig(stack.config.gateway_url, rate=rate, duration_s=duration_s, read_share=0.0)
        )
        time.sleep(1.0)  # a DOWN decided from the last pings of the run is still counted
        events = [e for e in read_events(stack.config.monitor_event_log) if e["t_mono"] >= started]
    downs = [e for e in events if e["event"] == "down"]
    failovers = [e for e in events if e["event"] == "failover_started"]
    misses = [e for e in events if e["event"] == "miss"]
    figure = Figure(
        key="false_failovers_saturated",
        title=f"failovers + DOWN transitions at {OVERLOAD}x the hashing bound, no fault",
        value=len(downs) + len(failovers),
        unit="events",
        target="0 failovers, 0 DOWN",
        met=not downs and not failovers,
        parameters={
            "rate_per_s": rate,
            "hashing_bound_per_s": round(bound, 1),
            "duration_s": duration_s,
            "failovers": len(failovers),
            "downs": len(downs),
            "ping_misses": len(misses),
            "answers": dict(Counter(str(record.status or record.error) for record in records)),
            **step_figures(records, duration_s),
        },
    )
    return [figure]

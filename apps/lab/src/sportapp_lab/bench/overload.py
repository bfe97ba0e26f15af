"""Overload: registrations offered at 7x what the stack sustains, from one address, for 2 minutes.

The stack must refuse what it cannot serve, fast and cleanly, and go on serving what it can: no
502/504 (no instance ever turned into "no live upstreams"), goodput close to the capacity measured
in the same run, refusals in milliseconds, no failover and no DOWN (pings answered however busy).
The gateway's per-address rate limit is raised out of the way, so that what is measured is the
stack's own overload protection (the gateway's bound on registrations in flight, registro's
admission by predicted wait), not a 429 for sending from one address.

The capacity is measured twice on the same stack, by the step ramp just before the flood and again
just after it, and the goodput is read against the mean of the two: the machine is shared and its
speed moves by a fifth within minutes (the hashing bound around one registration ramp measured
96.7 and 76.6 hashes/s), and the flood must be judged against what the stack sustained while it
ran, not against a moment before it that happened to be faster or slower.

The flood comes from wrk (C, a few microseconds of CPU a request): the load generator shares the
machine with the stack, and a Python client at 7x would take a tenth of it from the stack. wrk
keeps no timing per request: the answers' times come from the gateway's access log.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from sportapp_lab.analysis import percentile
from sportapp_lab.bench.common import Figure, bench_stack
from sportapp_lab.bench.wrk import flood_registrations
from sportapp_lab.capacity import measure_capacity
from sportapp_ops.event_log import read_events
from sportapp_stack.stack import Stack

OVERLOAD = 7.0
TARGET_GOODPUT_SHARE = 0.90
TARGET_REFUSAL_P99_MS = 100.0
REFUSALS = ("429", "503")
# Each wrk connection sends about one registration a second (REGISTRATION_FLOOD); a few more
# connections make up for the ones waiting on an admitted (slower) registration.
CONNECTIONS_PER_RATE = 1.05
# Each ramp narrows the capacity down with two steps between the best served rate and the first
# not served (to within ~6% rather than the ramp's 25%).
REFINEMENTS = 2
# The ramp after the flood starts a little below the capacity found before it: two or three steps.
AFTER_START_SHARE = 0.8


def gateway_answers(stack: Stack, since_unix: float) -> list[dict[str, Any]]:
    """The registrations the gateway answered since ``since_unix``, from its access log."""
    answers = []
    for line in (stack.config.nginx_dir / "access.log").read_text().splitlines():
        try:
            entry = json.loads(line)
            at = datetime.fromisoformat(entry["time"]).timestamp()
        except (ValueError, KeyError):
            continue
        if at >= since_unix - 1 and entry.get("method") == "POST":
            answers.append(entry)
    return answers


def measure(*, duration_s: int, step_s: float, first_rate: float) -> list[Figure]:
    """The overload figure: goodput and refusals at 7x the capacity measured first, same stack."""
    with bench_stack(registration_rate="10000r/s", registration_burst=20000) as stack:
        capacity = measure_capacity(
            stack.config.gateway_url, start_rate=first_rate, step_s=step_s, refinements=REFINEMENTS
        )
        rate = capacity.per_s * OVERLOAD
        connections = round(rate * CONNECTIONS_PER_RATE)
        print(f"  capacity {capacity.per_s}/s; {connections} connections for {duration_s} s", flush=True)
        started, started_unix = time.monotonic(), time.time()
        flood = flood_registrations(
            stack.config.gateway_url, connections=connections, duration_s=duration_s,
            run_id=uuid.uuid4().hex[:8],
        )
        time.sleep(1.5)  # the access log is flushed every second; a last DOWN is still counted
        events = [e for e in read_events(stack.config.monitor_event_log) if e["t_mono"] >= started]
        answers = gateway_answers(stack, started_unix)
        after = measure_capacity(
            stack.config.gateway_url,
            start_rate=round(capacity.per_s * AFTER_START_SHARE, 1),
            step_s=step_s,
            refinements=REFINEMENTS,
        )
        print(f"  capacity after the flood {after.per_s}/s", flush=True)
    sustained = round((capacity.per_s + after.per_s) / 2, 2)
    statuses = Counter({str(status): count for status, count in flood.statuses.items()})
    refusal_ms = [float(a["duration_s"]) * 1000 for a in answers if str(a["status"]) in REFUSALS]
    admitted_ms = [float(a["duration_s"]) * 1000 for a in answers if str(a["status"]) == "201"]
    goodput = statuses.get("201", 0) / duration_s
    refusal_p99 = percentile(refusal_ms, 99)
    bad_gateway = statuses.get("502", 0) + statuses.get("504", 0)
    downs = [e for e in events if e["event"] == "down"]
    failovers = [e for e in events if e["event"] == "failover_started"]
    figure = Figure(
        key="overload_goodput",
        title=f"goodput at {OVERLOAD:g}x the capacity, registrations/s",
        value=round(goodput, 2),
        unit="req/s",
        baseline=sustained,
        baseline_title="capacity on the same stack, mean of before and after the flood, registrations/s",
        target=(
            f">= {TARGET_GOODPUT_SHARE} of the capacity, 0 x 502/504, refusals p99 < "
            f"{TARGET_REFUSAL_P99_MS:g} ms, 0 failovers, 0 DOWN"
        ),
        parameters={
            "offered_per_s": round(flood.summary.requests / duration_s, 1),
            "offered_share_of_capacity": round(flood.summary.requests / duration_s / sustained, 2),
            "capacity_before_and_after": [capacity.per_s, after.per_s],
            "connections": connections,
            "duration_s": duration_s,
            "answers": dict(sorted(statuses.items())),
            "bad_gateway_502_504": bad_gateway,
            "refusal_p50_ms": percentile(refusal_ms, 50),
            "refusal_p99_ms": refusal_p99,
            "refusals_timed_by": "the gateway's access log ($request_time)",
            "admitted_p50_ms": percentile(admitted_ms, 50),
            "admitted_p99_ms": percentile(admitted_ms, 99),
            "client_p99_ms_all_answers": flood.summary.p99_ms,
            "retried_on_the_standby": sum(1 for a in answers if "," in a.get("upstream", "")),
            "answered_by_the_gateway_itself": sum(1 for a in answers if not a.get("upstream")),
            "failovers": len(failovers),
            "downs": len(downs),
            "ping_misses": sum(1 for e in events if e["event"] == "miss"),
            "driver": "wrk -t1, one registration per connection per 0.5-1.5 s",
            "cores": os.cpu_count(),
            "capacity_steps": capacity.steps,
            "capacity_steps_after": after.steps,
        },
    )
    figure.met = (
        figure.ratio is not None
        and figure.ratio >= TARGET_GOODPUT_SHARE
        and bad_gateway == 0
        and refusal_p99 is not None
        and refusal_p99 < TARGET_REFUSAL_P99_MS
        and not downs
        and not failovers
    )
    return [figure]

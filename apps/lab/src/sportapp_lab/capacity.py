"""What this machine sustains: registrations per second through the gateway, by a short step ramp.

The experiment offers a share of it (half, by default) rather than a fixed rate, so that its verdict
depends on the architecture and not on how fast the machine happens to be: the same share of a slow
machine's capacity is as easy for it as the same share of a fast one's. A step is served when
nearly every registration is answered 201 (refusals by admission control are the stack speaking,
not serving) with a p99 within a second; the capacity is the most any served step delivered,
read over the time its answers took rather than the step's length alone (:func:`step_figures`), so
that a short step offering more than the stack keeps up with does not read as served in full.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sportapp_lab.analysis import percentile
from sportapp_lab.load import run_load_sync
from sportapp_lab.records import RequestRecord
from sportapp_lab.workload import LoadConfig

P99_LIMIT_MS = 1000.0
# A step must answer nearly everything: shedding (503) is the admission limit speaking, not service.
MIN_OK_SHARE = 0.99
# A measured capacity is reused for this long on the same machine (the experiment says how old).
CACHE_TTL_S = 6 * 3600.0


# The answered requests at either end of a step whose waits are compared (backlog_growth_s): a
# tenth of them, and a few at least.
BACKLOG_SHARE = 0.1
BACKLOG_MIN_REQUESTS = 5


def backlog_growth_s(answered: Sequence[RequestRecord]) -> float:
    """How much longer a step's last answered requests waited than its first ones (the median
    of each end's waits), in seconds: the backlog the step built and left to drain after it.
    Zero when the waits did not grow, or with too few answers to tell."""
    answered = sorted(answered, key=lambda record: record.scheduled_at)
    end = max(BACKLOG_MIN_REQUESTS, round(len(answered) * BACKLOG_SHARE))
    if len(answered) < 2 * end:
        return 0.0
    first = statistics.median(r.latency_ms for r in answered[:end])
    last = statistics.median(r.latency_ms for r in answered[-end:])
    return max(0.0, (last - first) / 1000.0)


def step_figures(records: Sequence[RequestRecord], duration_s: float) -> dict[str, float | None]:
    """Offered and served rates, share answered correctly, latency p50/p99 and the backlog built
    of one step.

    The served rate is what the stack kept up with: the answers over the time they took, the
    step's length plus the backlog it built (:func:`backlog_growth_s`), not over the step's length
    alone. An open-loop step that offers more than the stack keeps up with still has every request
    answered within the p99 limit if it is short enough: the surplus waits in a queue that grows
    through the step and drains after it (a 10 s step offering 6% more ends with 0.6 s of backlog).
    Over the step alone, such a step reads as served at the rate offered; over the time it took,
    it reads as the rate the stack served. A step whose waits stay level reads as before.
    """
    ok = [r for r in records if r.ok]
    latencies = [r.latency_ms for r in ok]
    backlog_s = backlog_growth_s(ok)
    return {
        "offered_per_s": round(len(records) / duration_s, 2),
        "served_per_s": round(len(ok) / (duration_s + backlog_s), 2),
        "backlog_ms": round(backlog_s * 1000.0, 1),
        "ok_share": round(len(ok) / len(records), 4) if records else None,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


def describe_step(step: dict[str, Any]) -> str:
    """One step as a line of progress: offered, served, share answered, p99 and backlog built."""
    p99 = "-" if step["p99_ms"] is None else f"{step['p99_ms']:.0f}"
    return (
        f"{step['rate']:g}/s offered: {step['served_per_s']:g}/s served, ok {step['ok_share']}, "
        f"p99 {p99} ms, backlog built {step['backlog_ms']:.0f} ms"
    )


def step_served(step: dict[str, Any]) -> bool:
    """Whether a step answered nearly everything, with its p99 within the limit."""
    return (
        step["p99_ms"] is not None
        and step["p99_ms"] <= P99_LIMIT_MS
        and (step["ok_share"] or 0.0) >= MIN_OK_SHARE
    )


def best_step(steps: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The served step that delivered the most, among those before the first unserved one."""
    best: dict[str, Any] | None = None
    for step in steps:
        if not step_served(step):
            break
        if best is None or step["served_per_s"] > best["served_per_s"]:
            best = step
    return best


def machine() -> dict[str, Any]:
    """What the capacity belongs to: the cores, the processor and the platform."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "platform": platform.platform()}


@dataclass(frozen=True)
class Capacity:
    """Registrations per second this machine sustains, how it was found, and on what."""

    per_s: float
    measured_at: str
    machine: dict[str, Any]
    # "measured" in this run, or "cached" from an earlier run on the same machine.
    method: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    # What else the figure depends on (the hashing parameters): a change measures anew.
    basis: dict[str, Any] = field(default_factory=dict)

    def age_s(self, now: datetime | None = None) -> float:
        """Seconds since it was measured."""
        measured = datetime.fromisoformat(self.measured_at)
        return ((now or datetime.now(timezone.utc)) - measured).total_seconds()

    def setting_step(self) -> dict[str, Any] | None:
        """The served step whose rate is the capacity (None for a cached figure: it keeps no steps)."""
        for step in self.steps:
            if step_served(step) and step["served_per_s"] == self.per_s:
                return step
        return None

    def as_dict(self) -> dict[str, Any]:
        """For the report, with its age."""
        return {**asdict(self), "age_s": round(self.age_s(), 1)}


# Offers registrations at a rate for a duration, and returns what clients saw.
StepRunner = Callable[[float, float], Sequence[RequestRecord]]


def measure_capacity(
    base_url: str,
    *,
    start_rate: float,
    basis: dict[str, Any] | None = None,
    step_s: float = 3.0,
    factor: float = 1.25,
    max_steps: int = 12,
    refinements: int = 0,
    after_step: Callable[[], dict[str, Any]] | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    run_step: StepRunner | None = None,
) -> Capacity:
    """Offer registrations at ``start_rate``, then ``factor`` times more each step, until a step
    is not served; the capacity is the best served step. A first step that is not served starts
    again at half the rate (a machine slower than guessed). With ``refinements``, that many more
    steps then halve the gap (geometrically) between the best served rate and the lowest rate not
    served: the capacity is known to a finer share than ``factor``. ``after_step`` measures
    something right after each step, while the stack is idle (a benchmark's baseline, taken next
    to the step rather than minutes away from it); what it returns is added to the step."""

    def through_the_gateway(rate: float, duration_s: float) -> Sequence[RequestRecord]:
        return run_load_sync(LoadConfig(base_url, rate=rate, duration_s=duration_s, read_share=0.0))

    run = run_step or through_the_gateway

    def offer(rate: float, **marks: Any) -> dict[str, Any]:
        records = run(rate, step_s)
        step = {"rate": round(rate, 2), **step_figures(records, step_s), **marks}
        if after_step is not None:
            step.update(after_step())
        if on_step is not None:
            on_step(step)
        return step

    steps: list[dict[str, Any]] = []
    rate = start_rate
    for _ in range(max_steps):
        step = offer(rate)
        steps.append(step)
        if step_served(step):
            rate *= factor
        elif best_step(steps) is None and rate > 1.0:
            steps.clear()
            rate /= 2
        else:
            break
    best = best_step(steps)
    if best is None:
        raise RuntimeError(f"no step was served, down to {rate:.1f} registrations/s: {steps}")
    if not step_served(steps[-1]):  # the ramp found a rate it could not serve: look between
        served_rate, unserved_rate = float(best["rate"]), float(steps[-1]["rate"])
        for _ in range(refinements):
            step = offer(math.sqrt(served_rate * unserved_rate), refinement=True)
            steps.append(step)
            if step_served(step):
                served_rate = float(step["rate"])
                if step["served_per_s"] > best["served_per_s"]:
                    best = step
            else:
                unserved_rate = float(step["rate"])
    return Capacity(
        per_s=float(best["served_per_s"]),
        measured_at=datetime.now(timezone.utc).isoformat(),
        machine=machine(),
        method="measured",
        steps=steps,
        basis=dict(basis or {}),
    )


class CapacityCache:
    """The last capacity measured on this machine, in a JSON file (``var/capacity.json``)."""

    def __init__(self, path: Path, ttl_s: float = CACHE_TTL_S) -> None:
        self.path = path
        self.ttl_s = ttl_s

    def load(self, basis: dict[str, Any]) -> Capacity | None:
        """The cached capacity, if it was measured on this machine, on this basis, recently."""
        try:
            data = json.loads(self.path.read_text())
            cached = Capacity(**{**data, "method": "cached"})
        except (OSError, ValueError, TypeError):
            return None
        if _fingerprint(cached.machine, cached.basis) != _fingerprint(machine(), basis):
            return None
        if not 0 <= cached.age_s() <= self.ttl_s:
            return None
        return cached

    def save(self, capacity: Capacity) -> None:
        """Keep ``capacity`` for the next runs."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(asdict(capacity), indent=2))
        temporary.replace(self.path)


def _fingerprint(of_machine: dict[str, Any], basis: dict[str, Any]) -> str:
    text = json.dumps({"machine": of_machine, "basis": basis}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


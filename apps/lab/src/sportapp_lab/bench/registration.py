"""Registration throughput through the gateway, against the bound that hashing alone sets.

The capacity step ramp the experiment runs before its load (open-loop steps of rising rate, a fixed
arrival schedule, so a slow server cannot slow the generator down and hide its latency), with longer
and finer steps: the figure is the most any step served with nearly every registration answered
201 and a p99 within 1 s. The bound is argon2id hashes per second on every core with the same
parameters, measured in the same run, before and after the steps.
"""

from __future__ import annotations

import dataclasses
import os

from sportapp_core.adapters.argon2_hasher import Argon2Parameters
from sportapp_lab.bench.common import Figure, bench_stack
from sportapp_lab.bench.hashing import hashes_per_second
from sportapp_lab.capacity import measure_capacity
from sportapp_lab.metrics import registro_metrics
from sportapp_stack.config import find_root
from sportapp_stack.programs import worker_settings

TARGET_RATIO = 0.85
# The ramp starts well below the bound and rises by a tenth each step; then two steps between the
# best served rate and the first one not served find the capacity to within 2.5%.
FIRST_STEP_SHARE = 0.3
STEP_FACTOR = 1.1
REFINEMENTS = 2


def measure(*, step_s: float, hash_s: float) -> tuple[list[Figure], float]:
    """The throughput figure and the hashing bound it is read against (returned for reuse)."""
    parameters = Argon2Parameters.from_env(os.environ)
    bound_before = hashes_per_second(hash_s, parameters)
    with bench_stack(registration_rate="5000r/s", registration_burst=10000) as stack:
        capacity = measure_capacity(
            stack.config.gateway_url,
            start_rate=round(bound_before * FIRST_STEP_SHARE, 1),
            step_s=step_s,
            factor=STEP_FACTOR,
            max_steps=30,
            refinements=REFINEMENTS,
            on_step=lambda step: print(
                f"  registration step {step['rate']:6.1f}/s: served {step['served_per_s']}/s, "
                f"ok {step['ok_share']}, p99 {step['p99_ms']} ms", flush=True,
            ),
        )
        admission = registro_metrics(stack.config)
    # Measured again after the steps (the stack stopped): on a shared machine, a neighbour's load
    # moves the bound as it moves the stack's figure, and the mean of the two sides the steps.
    bound_after = hashes_per_second(hash_s, parameters)
    bound = (bound_before + bound_after) / 2
    # The services inherit this environment: what it says of gunicorn is what they run with.
    gunicorn = worker_settings(find_root(), "registro")
    figure = Figure(
        key="registration_throughput",
        title="registrations/s through the gateway (p99 <= 1 s)",
        value=capacity.per_s,
        unit="req/s",
        baseline=round(bound, 1),
        baseline_title="argon2id hashes/s on all cores",
        target=f">= {TARGET_RATIO} of the hashing bound",
        parameters={
            "argon2": dataclasses.asdict(parameters),
            **gunicorn,
            "admission_budget_ms": round(admission["sportapp_admission_budget_seconds"] * 1000),
            "max_admitted": int(admission["sportapp_registrations_admitted_max"]),
            "step_s": step_s,
            "hashes_per_s_before_and_after": [round(bound_before, 1), round(bound_after, 1)],
            "steps": capacity.steps,
        },
    )
    figure.met = figure.ratio is not None and figure.ratio >= TARGET_RATIO
    return [figure], bound

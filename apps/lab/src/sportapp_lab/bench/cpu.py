"""Where the CPU goes: each part's CPU time, idle and per registration, against one hash.

Each part of the stack runs in a process group of its own (supervisord makes one per program), so
a part's CPU is the user + system time of every process in its group, read from ``/proc``
(children already reaped count in their parent's ``cutime``/``cstime``). Two windows on one fresh
stack, in the same run:

1. idle: nothing but the monitor's probes, for ``idle_s``;
2. load: keyed registrations offered open-loop at ``rate`` for ``load_s`` (then drained).

Per registration, a part costs its CPU in the load window divided by the registrations
acknowledged; the share of that cost the part would spend anyway (its idle rate times the window)
is reported beside it, and so is the marginal cost without it. The yardstick is the CPU time of one
argon2id hash as registro itself measured its hashes in the load window (``/metrics``): the same
hashes, on the same machine, at the same time, so a neighbour's load moves both sides alike. The
CPU of one hash measured alone, before the stack starts, is shown beside it. The load generator is
not part of the stack: its CPU is shown, not counted.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from typing import Any

from sportapp_core.adapters.argon2_hasher import Argon2Hasher, Argon2Parameters
from sportapp_core.domain import Password
from sportapp_lab.bench.common import Figure, bench_stack
from sportapp_lab.load import run_load_sync
from sportapp_lab.metrics import registro_metrics
from sportapp_lab.workload import LoadConfig
from sportapp_stack.processes import group_cpu_s
from sportapp_stack.redundancy import wait_redundant
from sportapp_stack.stack import Stack

# The bar, and where it wants the stack to end up.
TARGET_PER_REGISTRATION = 1.35
GOAL_PER_REGISTRATION = 1.15
TARGET_IDLE_SHARE = 0.03
SUPERVISORD = "supervisord"


def part_groups(stack: Stack) -> dict[str, int]:
    """Each part's process group (its program's pid), and supervisord's own."""
    groups = {info.name: info.pid for info in stack.supervisor.all() if info.pid}
    supervisord = stack.supervisord_pid()
    if supervisord is not None:
        groups[SUPERVISORD] = supervisord
    return groups


def cpu_by_part(groups: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each part."""
    by_group = group_cpu_s(groups.values())
    return {name: by_group[group] for name, group in groups.items()}


def hash_cpu_ms(parameters: Argon2Parameters, hashes: int = 30) -> float:
    """CPU milliseconds of one argon2id hash with ``parameters`` (median of ``hashes``)."""
    hasher = Argon2Hasher(parameters)
    password = Password("correct horse battery staple")
    hasher.hash(password)  # warm: the first hash allocates the memory the others reuse
    costs = []
    for _ in range(hashes):
        started = time.process_time()
        hasher.hash(password)
        costs.append(time.process_time() - started)
    costs.sort()
    return costs[len(costs) // 2] * 1000


def breakdown(
    idle: Mapping[str, float],
    idle_s: float,
    load: Mapping[str, float],
    load_s: float,
    acknowledged: int,
) -> dict[str, dict[str, float]]:
    """Per part: idle CPU ms per second, and CPU ms per registration (all, and marginal)."""
    rows = {}
    for part in sorted(set(idle) | set(load)):
        idle_ms_per_s = idle.get(part, 0.0) * 1000 / idle_s
        loaded_ms = load.get(part, 0.0) * 1000
        per_registration = loaded_ms / acknowledged if acknowledged else float("nan")
        marginal = (loaded_ms - idle_ms_per_s * load_s) / acknowledged if acknowledged else float("nan")
        rows[part] = {
            "idle_ms_per_s": round(idle_ms_per_s, 2),
            "ms_per_registration": round(per_registration, 2),
            "marginal_ms_per_registration": round(marginal, 2),
        }
    return rows


def hashing_totals(stack: Stack) -> tuple[float, float]:
    """registro-primary's hashes so far, and the CPU seconds they took, from its ``/metrics``."""
    values = registro_metrics(stack.config)
    return float(values["sportapp_password_hashes_total"]), float(
        values["sportapp_password_hash_cpu_seconds_total"]
    )


def _delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


def measure(*, rate: float, idle_s: float, load_s: float) -> list[Figure]:
    """The per-registration and idle figures, with every part's row as parameters."""
    parameters = Argon2Parameters.from_env(os.environ)
    alone_ms = hash_cpu_ms(parameters)
    cores = os.cpu_count() or 1
    with bench_stack() as stack:
        wait_redundant(stack.config)
        groups = part_groups(stack)
        first = cpu_by_part(groups)
        time.sleep(idle_s)
        second = cpu_by_part(groups)
        hashes_before, hash_cpu_before = hashing_totals(stack)
        client_before = time.process_time()
        load_started = time.monotonic()
        records = run_load_sync(
            LoadConfig(stack.config.gateway_url, rate=rate, duration_s=load_s, read_share=0.0)
        )
        window_s = time.monotonic() - load_started
        client_s = time.process_time() - client_before
        third = cpu_by_part(groups)
        hashes_after, hash_cpu_after = hashing_totals(stack)
        if part_groups(stack) != groups:
            raise RuntimeError("a part restarted during the measurement: its CPU would be lost")
    acknowledged = sum(1 for record in records if record.ok)
    hash_ms = (hash_cpu_after - hash_cpu_before) * 1000 / max(1.0, hashes_after - hashes_before)
    rows = breakdown(_delta(first, second), idle_s, _delta(second, third), window_s, acknowledged)
    stack_per_registration = sum(row["ms_per_registration"] for row in rows.values())
    stack_marginal = sum(row["marginal_ms_per_registration"] for row in rows.values())
    idle_ms_per_s = sum(row["idle_ms_per_s"] for row in rows.values())
    common: dict[str, Any] = {
        "hash_cpu_ms": round(hash_ms, 2),
        "hash_cpu_ms_alone": round(alone_ms, 2),
        "hashes_in_window": int(hashes_after - hashes_before),
        "argon2": dataclasses.asdict(parameters),
        "rate_per_s": rate,
        "load_s": round(window_s, 1),
        "idle_s": idle_s,
        "acknowledged": acknowledged,
        "offered": len(records),
        "parts": rows,
        "load_client_ms_per_registration": round(client_s * 1000 / acknowledged, 2) if acknowledged else None,
    }
    per_registration = Figure(
        key="cpu_per_registration",
        title=f"stack CPU per registration at {rate:g}/s, idle share included",
        value=round(stack_per_registration, 2),
        unit="ms",
        baseline=round(hash_ms, 2),
        baseline_title="CPU of one argon2id hash in registro, same window, ms",
        target=f"<= {TARGET_PER_REGISTRATION} x the hash (goal {GOAL_PER_REGISTRATION})",
        parameters={**common, "marginal_ms_per_registration": round(stack_marginal, 2),
                    "marginal_ratio": round(stack_marginal / hash_ms, 3)},
    )
    per_registration.met = (
        per_registration.ratio is not None and per_registration.ratio <= TARGET_PER_REGISTRATION
    )
    idle = Figure(
        key="idle_stack_cpu_share",
        title="idle stack CPU, share of the machine",
        value=round(idle_ms_per_s / (cores * 1000) * 100, 2),
        unit="%",
        target=f"<= {TARGET_IDLE_SHARE:.0%}",
        met=idle_ms_per_s / (cores * 1000) <= TARGET_IDLE_SHARE,
        parameters={"idle_ms_per_s": round(idle_ms_per_s, 1), "cores": cores, **common},
    )
    return [per_registration, idle]

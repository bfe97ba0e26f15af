"""Detection and failover times of the monitor, over repeated trials on one real local stack.

For kill -9 and hang (SIGSTOP) of the active registro instance: the time from the fault to the
monitor's DOWN (detection), to NGINX serving the switched configuration (config live), and to the
first registration served by the standby (failover), read from the monitor's event log and the
load's records; and the client requests that failed around it. Each trial is 4 s of registrations.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Any

from sportapp_lab.bench.common import Figure, bench_stack, summary
from sportapp_lab.faults import FaultInjector, InjectedFault
from sportapp_lab.load import run_load_sync
from sportapp_lab.timings import detection_ms, failover_ms
from sportapp_lab.workload import LoadConfig
from sportapp_ops.event_log import read_events
from sportapp_stack.redundancy import wait_redundant
from sportapp_stack.stack import Stack

DETECTION_P95_TARGET_MS = 500.0
FAILOVER_P95_TARGET_MS = 1000.0
# The monitor forgives an instance's earlier restarts once it has been up this long; the trials
# wait that long, so that each one starts with the first (immediate) restart, as a real fault does.
STABLE_AFTER_S = 2.0


def trial(stack: Stack, fault: str, rate: float, active: str) -> dict[str, Any]:
    """One fault of the ``active`` instance during 4 s of registrations; its detection, failover
    and failed requests."""
    injector = FaultInjector(stack)
    injected: list[InjectedFault] = []
    stopped: list[int] = []

    def inject() -> None:
        time.sleep(1.0)
        if fault == "hang":
            stopped.append(injector.pid(active))
            injected.append(injector.hang(active))
        else:
            injected.append(injector.kill(active))

    thread = threading.Thread(target=inject)
    thread.start()
    try:
        records = run_load_sync(
            LoadConfig(base_url=stack.config.gateway_url, rate=rate, duration_s=4.0, read_share=0.0)
        )
    finally:
        thread.join(timeout=30)
        for group in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGCONT)
    happened = injected[0].as_dict()
    events = read_events(stack.config.monitor_event_log)
    live = [e["t_mono"] for e in events if e["event"] == "config_live" and e["t_mono"] >= happened["t_mono"]]
    return {
        "detection_ms": detection_ms(happened, events),
        # Fault to the gateway serving the switched configuration (the monitor's whole failover).
        "config_live_ms": round((min(live) - happened["t_mono"]) * 1000, 1) if live else None,
        "failover_ms": failover_ms(happened, records),
        "failed_requests": sum(1 for record in records if not record.ok),
        "requests": len(records),
    }


def run_trials(trials: int, rate: float, masking: bool) -> dict[str, list[dict[str, Any]]]:
    """``trials`` of each fault on one stack; the raw figures of every trial, by fault."""
    saved = os.environ.get("SPORTAPP_STABLE_AFTER_S")
    os.environ["SPORTAPP_STABLE_AFTER_S"] = str(STABLE_AFTER_S)  # inherited by the monitor
    try:
        results: dict[str, list[dict[str, Any]]] = {}
        with bench_stack(masking=masking) as stack:
            for fault in ("kill", "hang"):
                results[fault] = []
                for number in range(trials):
                    # Without fail-back the restarted instance is the standby: each trial
                    # strikes whichever instance is active.
                    active = wait_redundant(stack.config)["active"]
                    time.sleep(STABLE_AFTER_S + 0.5)
                    results[fault].append(trial(stack, fault, rate, active))
                    print(f"  {fault} trial {number + 1}/{trials}: {results[fault][-1]}", flush=True)
        return results
    finally:
        if saved is None:
            os.environ.pop("SPORTAPP_STABLE_AFTER_S", None)
        else:
            os.environ["SPORTAPP_STABLE_AFTER_S"] = saved


def measure(*, trials: int, rate: float = 15.0, masking: bool = True) -> list[Figure]:
    """Detection and failover p95 for each fault; medians, maxima and failures as parameters."""
    figures = []
    for fault, runs in run_trials(trials, rate, masking).items():
        detection = summary([run["detection_ms"] for run in runs])
        live = summary([run["config_live_ms"] for run in runs])
        failover = summary([run["failover_ms"] for run in runs])
        common = {
            "trials": trials,
            "rate_per_s": rate,
            "masking": masking,
            "detection_ms": detection,
            "config_live_ms": live,
            "failover_ms": failover,
            "failed_requests": sum(run["failed_requests"] for run in runs),
            "requests": sum(run["requests"] for run in runs),
        }
        figures.append(_p95_figure(f"detection_{fault}_p95", f"detection p95, {fault}", detection,
                                   DETECTION_P95_TARGET_MS, common))
        figures.append(_p95_figure(f"failover_{fault}_p95", f"failover p95, {fault}", failover,
                                   FAILOVER_P95_TARGET_MS, common))
    return figures


def _p95_figure(
    key: str, title: str, measured: dict[str, Any], target_ms: float, parameters: dict[str, Any]
) -> Figure:
    """A p95 over the trials, met only when every trial measured something and it is below target."""
    p95 = measured["p95"]
    return Figure(
        key=key,
        title=f"{title} (median {measured['median']}, max {measured['max']})",
        value=p95,
        unit="ms",
        target=f"p95 < {target_ms:g} ms",
        met=p95 is not None and measured["missing"] == 0 and p95 < target_ms,
        parameters=parameters,
    )

"""Detection and failover times of the monitor, over repeated trials on one real local stack.

    .venv/bin/python bench/failover.py [--trials 10] [--rate 15]

For each of kill -9 and hang (SIGSTOP) of the registro primary, with gateway masking on and off:
the time from the fault to the monitor's DOWN (detection), from the fault to the first successful
registration served by the backup (failover), and the client requests that failed around it.
Prints a table and writes bench/results/failover-<timestamp>.json. Bounded: every trial is a
few seconds of load at a fixed rate, and every stack is stopped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from sportapp_core.adapters.event_log import read_events
from sportapp_stack.config import PORT_FIELDS, StackConfig, find_root, free_ports
from sportapp_stack.experiment.analysis import detection_ms, failover_ms
from sportapp_stack.experiment.faults import FaultInjector, InjectedFault
from sportapp_stack.experiment.load import LoadConfig, run_load_sync
from sportapp_stack.stack import Stack

PRIMARY, BACKUP = "registro-primary", "registro-backup"
# The monitor forgives an instance's earlier restarts once it has been up this long; the trials
# wait that long, so that each one starts with the first (immediate) restart, as a real fault does.
STABLE_AFTER_S = 2.0


def wait_nominal(stack: Stack, timeout_s: float = 60.0) -> None:
    """Until the primary is active, both instances ready, and the primary stable (back-off reset)."""
    url = stack.config.url(stack.config.monitor_port) + "/status"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, ValueError, KeyError):
            status = requests.get(url, timeout=1).json()
            targets = status["targets"]
            if status["active"] == PRIMARY and not status["switching"] and all(
                targets[name]["state"] == "up" and targets[name]["ready"] for name in (PRIMARY, BACKUP)
            ):
                return
        time.sleep(0.2)
    raise RuntimeError("the stack did not return to nominal")


def trial(stack: Stack, fault: str, rate: float) -> dict[str, Any]:
    """One fault during 4 s of registrations; its detection, failover and failed requests."""
    injector = FaultInjector(stack)
    injected: list[InjectedFault] = []
    stopped: list[int] = []

    def inject() -> None:
        time.sleep(1.0)
        if fault == "hang":
            stopped.append(injector.pid(PRIMARY))
            injected.append(injector.hang(PRIMARY))
        else:
            injected.append(injector.kill(PRIMARY))

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
        "switch_ms": round((min(live) - happened["t_mono"]) * 1000, 1) if live else None,
        "failover_ms": failover_ms(happened, records),
        "failed_requests": sum(1 for record in records if not record.ok),
        "requests": len(records),
    }


def summary(values: list[float | None]) -> dict[str, float | int | None]:
    """Median, p95 (nearest rank) and max of the measured values, and how many were missing."""
    measured = sorted(v for v in values if v is not None)
    if not measured:
        return {"median": None, "p95": None, "max": None, "missing": len(values)}
    p95 = measured[max(0, -(-95 * len(measured) // 100) - 1)]
    return {
        "median": round(statistics.median(measured), 1),
        "p95": round(p95, 1),
        "max": round(measured[-1], 1),
        "missing": len(values) - len(measured),
    }


def main() -> None:
    """Run the trials and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--rate", type=float, default=15.0)
    args = parser.parse_args()
    root = find_root()
    results: list[dict[str, Any]] = []
    os.environ["SPORTAPP_STABLE_AFTER_S"] = str(STABLE_AFTER_S)  # inherited by the monitor
    for masking in (True, False):
        var_dir = Path(tempfile.mkdtemp(prefix="sportapp-bench-"))
        var_dir.chmod(0o755)
        ports = dict(zip(PORT_FIELDS, free_ports(len(PORT_FIELDS)), strict=True))
        stack = Stack(StackConfig(var_dir=var_dir, root=root, masking=masking, **ports))
        stack.start(fresh=True)
        try:
            for fault in ("kill", "hang"):
                trials = []
                for _ in range(args.trials):
                    wait_nominal(stack)
                    time.sleep(STABLE_AFTER_S + 0.5)
                    trials.append(trial(stack, fault, args.rate))
                results.append({"fault": fault, "masking": masking, "trials": trials})
        finally:
            stack.stop()
    rows = []
    for result in results:
        trials = result["trials"]
        rows.append({
            "fault": result["fault"],
            "masking": "on" if result["masking"] else "off",
            "detection_ms": summary([t["detection_ms"] for t in trials]),
            "switch_ms": summary([t["switch_ms"] for t in trials]),
            "failover_ms": summary([t["failover_ms"] for t in trials]),
            "failed_requests": sum(t["failed_requests"] for t in trials),
            "requests": sum(t["requests"] for t in trials),
            "trials": len(trials),
        })
    print("median / p95 / max, in ms, over the trials")
    print(f"{'fault':<6}{'masking':<9}{'detection':<28}{'config live':<28}{'first served by backup':<28}"
          "failed/requests")
    for row in rows:
        cells = [
            "{median!s:>7} /{p95!s:>7} /{max!s:>7}  ".format(**row[name])
            for name in ("detection_ms", "switch_ms", "failover_ms")
        ]
        print(f"{row['fault']:<6}{row['masking']:<9}{''.join(cells)}{row['failed_requests']}/{row['requests']}")
    out = root / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"failover-{stamp}.json"
    document = {"cpus": os.cpu_count(), "rate": args.rate, "rows": rows, "raw": results}
    path.write_text(json.dumps(document, indent=2))
    print(f"written: {path}")


if __name__ == "__main__":
    main()

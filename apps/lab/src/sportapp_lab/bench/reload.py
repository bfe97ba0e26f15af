"""What an NGINX reload costs under steady load: failed requests, and the reload's own time.

With the monitor stopped (so that it does not act on what it would see as a route change), the
benchmark does what the monitor does on a failover, 20 times at 0.3 s intervals: render the
registro upstream with the next generation, install it only if ``nginx -t`` accepts it, signal
the master, and wait until the gateway answers with the new generation.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from sportapp_lab.analysis import percentile
from sportapp_lab.bench.common import Figure, bench_stack
from sportapp_lab.capacity import step_figures
from sportapp_lab.load import run_load_sync
from sportapp_lab.workload import LoadConfig
from sportapp_ops.nginx import Instance, Nginx, UpstreamRoute, read_route, render_upstream
from sportapp_stack.stack import Stack

RELOADS = 20
INTERVAL_S = 0.3
RATE = 15.0


def _reload_repeatedly(stack: Stack, timings: list[dict[str, float]]) -> None:
    config = stack.config
    nginx = Nginx(config.nginx_bin, config.nginx_dir, config.nginx_config)
    route = read_route(config.upstream_file)
    if route is None:
        raise RuntimeError(f"{config.upstream_file} names no route")
    generation, active, standby, masking = route
    ports = config.ports()
    probe = config.gateway_url + "/user-commands/users/register"
    for _ in range(RELOADS):
        begun = time.monotonic()
        generation += 1
        content = render_upstream(config.upstream_template, UpstreamRoute(
            generation,
            Instance(active, f"127.0.0.1:{ports[active]}"),
            Instance(standby, f"127.0.0.1:{ports[standby]}"),
            masking,
        ))
        nginx.replace_config(config.upstream_file, content)  # writes, then nginx -t
        tested = time.monotonic()
        nginx.reload()
        signalled = time.monotonic()
        while requests.get(probe, timeout=2).headers.get("X-Upstream-Generation") != str(generation):
            time.sleep(0.005)
        live = time.monotonic()
        timings.append({
            "render_and_test_ms": (tested - begun) * 1000,
            "reload_ms": (signalled - begun) * 1000,
            "live_ms": (live - begun) * 1000,
        })
        time.sleep(max(0.0, INTERVAL_S - (time.monotonic() - begun)))


def measure() -> list[Figure]:
    """Failed requests over 20 reloads, with the reload's own time."""
    timings: list[dict[str, float]] = []
    errors: list[BaseException] = []
    duration_s = RELOADS * INTERVAL_S + 4.0
    with bench_stack() as stack:
        stack.supervisor.stop("monitor")

        def reload_after_a_second() -> None:
            try:
                time.sleep(1.0)
                _reload_repeatedly(stack, timings)
            except BaseException as error:  # surfaced below, not lost in the thread
                errors.append(error)

        thread = threading.Thread(target=reload_after_a_second)
        thread.start()
        records = run_load_sync(LoadConfig(stack.config.gateway_url, rate=RATE, duration_s=duration_s))
        thread.join(timeout=60)
    if errors:
        raise errors[0]

    def figures_of(name: str) -> dict[str, Any]:
        values = [t[name] for t in timings]
        return {"p50": round(percentile(values, 50) or 0.0, 1), "max": round(max(values), 1)}

    failed = [r for r in records if not r.ok]
    return [Figure(
        key="reload_failed_requests",
        title=f"failed requests over {RELOADS} NGINX reloads under load",
        value=len(failed),
        unit="requests",
        target="0 failed",
        met=not failed and len(timings) == RELOADS,
        parameters={
            "reloads": len(timings),
            "interval_s": INTERVAL_S,
            "render_and_nginx_t_ms": figures_of("render_and_test_ms"),
            "render_test_signal_ms": figures_of("reload_ms"),
            "until_live_ms": figures_of("live_ms"),
            "retried_resets": sum(r.retries for r in records),
            "failed": [(r.status, r.error) for r in failed][:10],
            **step_figures(records, duration_s),
        },
    )]

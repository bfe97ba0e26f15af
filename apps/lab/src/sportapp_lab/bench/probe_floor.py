"""What one request costs the process that answers it, at the rate the monitor probes: the floor
that the server, not SportApp's code, sets under every ping and every hop.

The same small answer (the query baseline's hello) from two servers, each asked
``GET /hello`` over one kept-alive connection at ``rate`` requests per second, as the monitor
pings the instance that takes the registrations:

- gunicorn with registro's own configuration (worker class, threads, keep-alive), serving the
  hello WSGI app: no Flask, no SportApp;
- a bare socket server in Python (:mod:`sportapp_lab.bench.bare_server`) that reads a request's
  head and writes the same bytes back: the least any Python process pays to be woken by a
  request and answer it.

CPU per request is the server's process group's CPU time over the window, less what it spends in
the same time doing nothing, divided by the requests answered. The time is read in nanoseconds
from every thread's ``/proc/<pid>/task/<tid>/schedstat`` (the clock ticks of ``/proc/<pid>/stat``
are 10 ms: too coarse for the bare server's few milliseconds a window); both servers keep their
threads for the whole run. The runs alternate and the figure is the median of the paired
ratios. On this kind of machine the services' idle
CPU is mostly this floor times the probes they answer.

A second figure reads the same gunicorn against itself: the hello at the probing rate against the
hello asked back-to-back (the next request sent as soon as the answer is in), same connection,
same round. The code run per request is the same; what differs is that at 10 a second the process
has slept, and its caches and the CPU's predictors have served other work, before each request.
That ratio is the machine's, not the code's: it says how much of a paced request's cost (a probe,
a hop of a registration every 40 ms) is waking up, and so how little a code path's cost measured
back-to-back tells of what it costs in the stack.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from sportapp_core.adapters.http.session import ServiceClient
from sportapp_lab.bench.common import Figure, wait_answering
from sportapp_stack.config import find_root, free_ports
from sportapp_stack.processes import process_stats, stop_groups
from sportapp_stack.programs import gunicorn_conf, worker_settings

# The monitor pings the instance that takes the registrations every 100 ms.
PROBE_RATE = 10.0
# The back-to-back run: as many requests as a round at the probing rate sends, at least this many
# (a second or so of work, so that its idle share is negligible).
BACK_TO_BACK_MIN_REQUESTS = 1000
IDLE_S = 5.0
READ_TIMEOUT_S = 2.0


@contextlib.contextmanager
def server(command: list[str], port: int) -> Iterator[int]:
    """Start ``command`` in a process group of its own; yield the group once ``port`` answers."""
    process = subprocess.Popen(command, cwd=find_root(), start_new_session=True)
    try:
        wait_answering(f"http://127.0.0.1:{port}/hello")
        yield process.pid
    finally:
        stop_groups([process], timeout_s=15)


def group_cpu_ms(group: int) -> float:
    """CPU milliseconds so far of every thread of every live process in ``group``."""
    total_ns = 0
    for process in process_stats():
        if process.group != group:
            continue
        tasks = Path(f"/proc/{process.pid}/task")
        with contextlib.suppress(OSError):  # a process or thread that ended meanwhile
            for task in tasks.iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    total_ns += int((task / "schedstat").read_text().split()[0])
    return total_ns / 1e6


def cpu_ms_per_request(
    group: int, port: int, *, requests: int, rate: float | None = None, idle_s: float = IDLE_S
) -> float:
    """The group's CPU per request over one kept-alive connection, idle share removed: ``requests``
    of them at ``rate`` a second, or back-to-back (each as soon as the previous answer is in) when
    ``rate`` is None."""
    client = ServiceClient(f"http://127.0.0.1:{port}", pool_size=1)
    try:
        for _ in range(10):  # a connection open and the server's first-request work done
            client.request("GET", "/hello", read_timeout_s=READ_TIMEOUT_S)
        idle_before = group_cpu_ms(group)
        time.sleep(idle_s)
        idle_ms_per_s = (group_cpu_ms(group) - idle_before) / idle_s
        started = time.monotonic()
        before = group_cpu_ms(group)
        for sent in range(requests):
            if rate is not None:
                # On a fixed schedule, so that a slower server is not asked less often.
                time.sleep(max(0.0, started + sent / rate - time.monotonic()))
            answer = client.request("GET", "/hello", read_timeout_s=READ_TIMEOUT_S)
            if answer.status != 200:
                raise RuntimeError(f"the server answered {answer.status}")
        used_ms = group_cpu_ms(group) - before
        elapsed = time.monotonic() - started
    finally:
        client.close()
    return max(0.0, used_ms - idle_ms_per_s * elapsed) / requests


def measure(*, duration_s: float, rounds: int, rate: float = PROBE_RATE) -> list[Figure]:
    """gunicorn's CPU per request at the probing rate, against a bare socket server's; and against
    its own back-to-back."""
    gunicorn_port, bare_port = free_ports(2)
    gunicorn = [
        sys.executable, "-m", "gunicorn", "-c", str(gunicorn_conf(find_root(), "registro")),
        "--bind", f"127.0.0.1:{gunicorn_port}", "--log-level", "warning",
        "sportapp_lab.bench.hello:app",
    ]  # fmt: skip
    bare = [sys.executable, "-m", "sportapp_lab.bench.bare_server", str(bare_port)]
    pairs: list[tuple[float, float]] = []
    back_to_back_ms: list[float] = []
    paced = int(rate * duration_s)
    back_to_back = max(BACK_TO_BACK_MIN_REQUESTS, paced)
    with server(gunicorn, gunicorn_port) as gunicorn_group, server(bare, bare_port) as bare_group:
        for _ in range(rounds):
            served = cpu_ms_per_request(gunicorn_group, gunicorn_port, requests=paced, rate=rate)
            floor = cpu_ms_per_request(bare_group, bare_port, requests=paced, rate=rate)
            warm = cpu_ms_per_request(gunicorn_group, gunicorn_port, requests=back_to_back)
            print(f"  probe floor round: gunicorn {served:.3f} ms ({warm:.3f} back-to-back), "
                  f"bare socket {floor:.3f} ms a request", flush=True)
            pairs.append((served, floor))
            back_to_back_ms.append(warm)
    served_ms = round(statistics.median(served for served, _ in pairs), 3)
    ratios = [served / floor for served, floor in pairs if floor > 0]
    wake_ratios = [
        served / warm for (served, _), warm in zip(pairs, back_to_back_ms, strict=True) if warm > 0
    ]
    wake = Figure(
        key="probe_cpu_wake",
        title="gunicorn CPU per request at the monitor's rate, against back-to-back",
        value=served_ms,
        unit="ms",
        baseline=round(statistics.median(back_to_back_ms), 3),
        baseline_title=f"the same hello on the same connection, {back_to_back} requests back-to-back",
        target="reported",
        parameters={
            "rate_per_s": rate,
            "back_to_back_requests": back_to_back,
            "rounds": [
                {"paced_ms": round(s, 3), "back_to_back_ms": round(w, 3)}
                for (s, _), w in zip(pairs, back_to_back_ms, strict=True)
            ],
        },
        paired_ratio=round(statistics.median(wake_ratios), 2) if wake_ratios else None,
    )
    figure = Figure(
        key="probe_cpu_floor",
        title="server CPU per probe at the monitor's rate",
        value=served_ms,
        unit="ms",
        baseline=round(statistics.median(floor for _, floor in pairs), 3),
        baseline_title="bare Python socket server, same bytes",
        target="reported",
        parameters={
            "rate_per_s": rate,
            "duration_s": duration_s,
            "rounds": [{"gunicorn_ms": round(s, 3), "bare_ms": round(f, 3)} for s, f in pairs],
            "gunicorn": worker_settings(find_root(), "registro"),
        },
        paired_ratio=round(statistics.median(ratios), 2) if ratios else None,
    )
    return [figure, wake]

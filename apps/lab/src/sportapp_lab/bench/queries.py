"""Query throughput through NGINX, against NGINX -> gunicorn "hello" with the same worker settings.

Everything is driven by wrk in the same run. Two baselines, each a "hello" app answering one
user-sized JSON body behind an NGINX of its own (proxied the way the gateway proxies consulta),
under gunicorn with consulta's worker settings: the same hello from Flask (the framework the
services are built with: the baseline the target is read against), and from a bare WSGI function
(the floor of NGINX + gunicorn, reported beside it). Then ``GET /user-queries/users/<id>`` and the
can-register check through the real gateway.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from sportapp_lab.bench.common import Figure, bench_stack, wait_answering
from sportapp_lab.bench.wrk import WrkResult, run_wrk
from sportapp_stack.config import find_root, free_ports
from sportapp_stack.processes import stop_groups
from sportapp_stack.programs import gunicorn_conf, worker_settings
from sportapp_stack.render import worker_user
from sportapp_stack.stack import Stack

# The bar, and where it wants the query path to end up.
TARGET_RATIO = 0.60
GOAL_RATIO = 0.70
MAX_P99_RATIO = 2.0
SEEDED_USERS = 50
CONNECTIONS = 16
CHECK_PATH = "/user-queries/users/check"

BASELINE_NGINX = """\
{user}
worker_processes 2;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    access_log off;
    keepalive_timeout 65s;
    upstream hello {{
        server 127.0.0.1:{app_port};
        keepalive 32;
        keepalive_timeout 60s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://hello;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
"""


@contextlib.contextmanager
def hello_behind_nginx(stack: Stack, wsgi_app: str) -> Iterator[str]:
    """A baseline app, started beside the stack with consulta's gunicorn settings; its URL."""
    folder = Path(tempfile.mkdtemp(prefix="bench-hello-", dir=stack.config.var_dir))
    folder.chmod(0o755)
    port, app_port = free_ports(2)
    user = worker_user(stack.config)
    user_line = f"user {user};" if user else ""
    (folder / "nginx.conf").write_text(
        BASELINE_NGINX.format(user=user_line, folder=folder, port=port, app_port=app_port)
    )
    # consulta's own gunicorn configuration (workers, threads, worker class, keep-alive): only the
    # app and the address are the baseline's.
    gunicorn = [
        sys.executable, "-m", "gunicorn", "-c", str(gunicorn_conf(find_root(), "consulta")),
        "--bind", f"127.0.0.1:{app_port}", "--log-level", "warning", wsgi_app,
    ]  # fmt: skip
    nginx = [stack.config.nginx_bin, "-p", str(folder), "-c", str(folder / "nginx.conf"),
             "-e", str(folder / "error.log")]  # fmt: skip
    # consulta's configuration shares its workers' metrics through files: kept in this folder.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics")}
    started: list[subprocess.Popen[bytes]] = []
    try:
        for command in (gunicorn, nginx):
            started.append(subprocess.Popen(command, cwd=find_root(), env=env, start_new_session=True))
        url = f"http://127.0.0.1:{port}"
        wait_answering(url + "/hello")
        yield url
    finally:
        stop_groups(started, timeout_s=15)


def seed_users(stack: Stack, count: int) -> list[int]:
    """Register ``count`` users through the gateway; wait until consulta shows them all."""
    ids = []
    for i in range(count):
        response = requests.post(
            stack.config.gateway_url + "/user-commands/users/register",
            json={"correo": f"query-bench-{i}@sportapp-bench.dev", "clave": "correct horse battery"},
            timeout=10,
        )
        response.raise_for_status()
        ids.append(int(response.json()["id"]))
    last = stack.config.gateway_url + f"/user-queries/users/{ids[-1]}"
    deadline = time.monotonic() + 15
    while requests.get(last, timeout=2).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError("consulta did not catch up with the seeded users")
        time.sleep(0.05)
    return ids


def _figure(
    key: str,
    title: str,
    runs: list[WrkResult],
    baselines: list[WrkResult],
    floors: list[WrkResult],
    duration_s: int,
) -> Figure:
    """The figure of ``runs``, each read against the baseline run of its own round."""
    result, baseline, floor = median_run(runs), median_run(baselines), median_run(floors)
    ratios = [run.requests_per_s / base.requests_per_s for run, base in zip(runs, baselines, strict=True)]
    p99_ratios = [run.p99_ms / base.p99_ms for run, base in zip(runs, baselines, strict=True) if base.p99_ms]
    p99_ratio = statistics.median(p99_ratios) if p99_ratios else None
    figure = Figure(
        key=key,
        title=title,
        value=result.requests_per_s,
        unit="req/s",
        baseline=baseline.requests_per_s,
        baseline_title="NGINX -> gunicorn Flask hello, req/s",
        target=(
            f">= {TARGET_RATIO} of the baseline (goal {GOAL_RATIO}), "
            f"p99 <= {MAX_P99_RATIO}x the baseline's"
        ),
        paired_ratio=round(statistics.median(ratios), 3),
        parameters={
            "ratio_per_round": [round(ratio, 3) for ratio in ratios],
            "p99_ms": result.p99_ms,
            "p50_ms": result.p50_ms,
            "baseline_p99_ms": baseline.p99_ms,
            "baseline_p50_ms": baseline.p50_ms,
            "p99_ratio": None if p99_ratio is None else round(p99_ratio, 2),
            "bare_wsgi_hello_per_s": floor.requests_per_s,
            "bare_wsgi_hello_p99_ms": floor.p99_ms,
            "ratio_to_bare_wsgi": round(result.requests_per_s / floor.requests_per_s, 3),
            "non_2xx": sum(run.non_2xx for run in runs),
            "socket_errors": sum(run.socket_errors for run in runs),
            "connections": CONNECTIONS,
            "duration_s": duration_s,
            "rounds": len(runs),
            "driver": "wrk -t1",
            # consulta's gunicorn settings, which the baselines ran with too.
            "gunicorn": worker_settings(find_root(), "consulta"),
        },
    )
    figure.met = (
        figure.ratio is not None
        and figure.ratio >= TARGET_RATIO
        and p99_ratio is not None
        and p99_ratio <= MAX_P99_RATIO
        and figure.parameters["non_2xx"] == 0
        and figure.parameters["socket_errors"] == 0
    )
    return figure


def median_run(runs: list[WrkResult]) -> WrkResult:
    """The run with the median throughput: one measured run, not a blend of several."""
    return sorted(runs, key=lambda run: run.requests_per_s)[len(runs) // 2]


def measure(*, duration_s: int, rounds: int) -> list[Figure]:
    """The two query figures against the baselines, in interleaved rounds.

    The machine is shared: a neighbour's burst during one run would tilt a ratio taken from two
    runs minutes apart. Each round runs the baselines and the stack back to back (both baseline
    apps stay up beside the stack), each run is read against its own round's baseline, and each
    figure is the median of those ratios over the rounds.
    """
    runs: dict[str, list[WrkResult]] = {"flask": [], "bare": [], "by_id": [], "check": []}
    with bench_stack() as stack:
        ids = seed_users(stack, SEEDED_USERS)
        paths = {
            "by_id": [f"/user-queries/users/{user_id}" for user_id in ids],
            # Half of them registered, half free: both answers of the check.
            "check": [f"{CHECK_PATH}?correo=query-bench-{i}%40sportapp-bench.dev" for i in range(0, 100, 2)],
        }
        with (
            hello_behind_nginx(stack, "sportapp_lab.bench.hello:create_flask_app()") as flask_url,
            hello_behind_nginx(stack, "sportapp_lab.bench.hello:app") as bare_url,
        ):
            for number in range(rounds):
                # Each run of the stack right after (or right before) its baseline run.
                for name, url, wanted in (
                    ("flask", flask_url, ["/hello"]),
                    ("by_id", stack.config.gateway_url, paths["by_id"]),
                    ("check", stack.config.gateway_url, paths["check"]),
                    ("bare", bare_url, ["/hello"]),
                ):
                    runs[name].append(run_wrk(url, wanted, duration_s=duration_s, connections=CONNECTIONS))
                print(f"  round {number + 1}/{rounds}: " + ", ".join(
                    f"{name} {results[-1].requests_per_s:.0f}/s" for name, results in runs.items()
                ), flush=True)
    flask, bare = runs["flask"], runs["bare"]
    return [
        _figure("query_by_id", "GET /user-queries/users/<id>, req/s", runs["by_id"], flask, bare,
                duration_s),
        _figure("query_check", "GET /user-queries/users/check, req/s", runs["check"], flask, bare,
                duration_s),
    ]

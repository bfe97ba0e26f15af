"""Render the stack's configuration files (NGINX, its registro upstream, supervisord) from templates."""

from __future__ import annotations

import grp
import math
import os
import shlex
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import jinja2

from sportapp_core.adapters.argon2_hasher import Argon2Hasher, Argon2Parameters
from sportapp_core.adapters.work_slots import WorkSlots
from sportapp_core.domain import Password
from sportapp_ops.nginx import Instance, UpstreamRoute, render_upstream
from sportapp_stack.config import HOST, StackConfig
from sportapp_stack.programs import Program

WORKER_USER = "nobody"


def worker_user(config: StackConfig) -> str | None:
    """The user NGINX's workers run as: none to set unless the master runs as root.

    As root, workers drop to ``nobody``, which must be able to reach the OpenAPI document it
    serves; when a folder above the work folder is closed to others (a checkout under /root),
    they stay root instead, rather than answering 403.
    """
    if os.geteuid() != 0:
        return None
    if _reachable_by_others(config.nginx_dir):
        group = "nogroup" if _group_exists("nogroup") else WORKER_USER
        return f"{WORKER_USER} {group}"
    return "root root"


# What this stack serves of the bound that hashing sets (a low guess: the registration benchmark
# measured 0.77 to 0.87 on 2 cores), and how much of that the gateway lets into registro at once,
# in seconds of its throughput: more than a hung instance catches (0.55 s to detect and switch, at
# half load), less than registro's own admission budget (1.5 s), so that the gateway sheds a flood,
# cheaply, and registro seldom has to refuse; and as much of the latency a client is promised (the
# capacity ramp's p99 of 1 s) as the hash itself leaves, so that a slow second on a shared machine
# is absorbed as a wait and not refused. Measured (bench registration and overload, 2 cores,
# 2026-12-06): at 0.4 s the steps near the knee had 1-6% of their registrations refused (503)
# while the p99 of the rest was 0.46-0.83 s, and the knee read 0.73-0.76 of the hashing bound
# (median 0.74); at 0.8 s the same ramp read 0.77-0.87 (median 0.79), and under the overload
# benchmark's flood the gateway made every refusal (registro none), goodput 0.91 of the capacity,
# admitted p99 1.6 s. Earlier, on a stack that served less (2026-12-02), 1 s let registro refuse
# most of a flood itself and goodput fell to 0.82. A db restart under half load keeps db away
# about 2 s here, longer than this window: the monitor lifts the bound while db is down
# (registro-admission.conf), since registrations then wait for db, not CPU.
SERVED_SHARE_OF_HASHING = 0.75
IN_FLIGHT_WINDOW_S = 0.8


def gateway_in_flight_bound(parameters: Argon2Parameters, cores: int) -> int:
    """Registrations the gateway lets into registro at once on this machine: what registro serves
    in IN_FLIGHT_WINDOW_S, from hashes timed here with its parameters; two per core at least."""
    hasher = Argon2Hasher(parameters, WorkSlots(1, job_s=1.0))  # its first hash warms it up
    password = Password("a password to time one hash with")
    lengths = []
    for _ in range(5):
        started = time.perf_counter()
        hasher.hash(password)
        lengths.append(time.perf_counter() - started)
    # The least of them: what a hash costs this machine. Timed while other processes start (or a
    # previous stack stops) a hash takes up to twice as long, and the median made the bound
    # vary from one `up` to the next by as much (33 to 83 at the same window, measured).
    hash_s = min(lengths)
    served_per_s = SERVED_SHARE_OF_HASHING * cores / hash_s
    return max(2 * cores, math.ceil(IN_FLIGHT_WINDOW_S * served_per_s))


def render_nginx(config: StackConfig, *, foreground: bool = True) -> str:
    """The main NGINX configuration for ``config`` (its in-flight bound set: see Stack.render)."""
    assert config.registrations_in_flight is not None, "sized before the gateway is rendered"
    return render_gateway(
        config.root,
        worker_user=worker_user(config),
        foreground=foreground,
        pid_file=config.nginx_dir / "nginx.pid",
        error_log=str(config.nginx_error_log),
        access_log=str(config.nginx_dir / "access.log"),
        temp_dir=config.nginx_dir / "temp",
        listen=f"{HOST}:{config.gateway_port}",
        consulta_address=f"{HOST}:{config.consulta_port}",
        upstream_file=config.upstream_file,
        admission_file=config.admission_file,
        openapi_file=config.openapi_file,
        registration_rate=config.registration_rate,
        registration_burst=config.registration_burst,
        registrations_in_flight=config.registrations_in_flight,
        client_max_body=config.client_max_body,
    )


def render_gateway(
    root: Path,
    *,
    worker_user: str | None,
    foreground: bool,
    pid_file: Path,
    error_log: str,
    access_log: str,
    temp_dir: Path,
    listen: str,
    consulta_address: str,
    upstream_file: Path,
    admission_file: Path,
    openapi_file: Path,
    registration_rate: str,
    registration_burst: int,
    registrations_in_flight: int,
    client_max_body: str,
) -> str:
    """``infra/nginx/nginx.conf.j2`` of the repository at ``root``, with every variable it takes.

    The local stack (:func:`render_nginx`) and the compose files (``sportapp_stack.compose``)
    both render through here, so the two gateways differ only in these values.
    """
    template = _environment(root / "infra" / "nginx").get_template("nginx.conf.j2")
    return template.render(
        worker_user=worker_user,
        foreground=foreground,
        worker_processes=2,
        pid_file=pid_file,
        error_log=error_log,
        access_log=access_log,
        temp_dir=temp_dir,
        listen=listen,
        consulta_address=consulta_address,
        upstream_file=upstream_file,
        admission_file=admission_file,
        openapi_file=openapi_file,
        registration_rate=registration_rate,
        registration_burst=registration_burst,
        registrations_in_flight=registrations_in_flight,
        client_max_body=client_max_body,
    )


def initial_route(config: StackConfig) -> UpstreamRoute:
    """Generation 1: registrations go to the primary, the backup stands by."""
    return UpstreamRoute(
        generation=1,
        active=Instance("registro-primary", f"{HOST}:{config.registro_primary_port}"),
        standby=Instance("registro-backup", f"{HOST}:{config.registro_backup_port}"),
        masking=config.masking,
    )


def render_registro_upstream(config: StackConfig, route: UpstreamRoute | None = None) -> str:
    """The registro upstream include, rendered exactly as the monitor renders it on a switch."""
    return render_upstream(config.upstream_template, route or initial_route(config))


def render_supervisord(config: StackConfig, programs: Iterable[Program]) -> str:
    """supervisord's configuration: its socket and logs in the work folder, one section a program."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("sportapp_stack", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 -- an ini file, not HTML
    )
    environment.filters["sv"] = _supervisor_value
    environment.filters["command_line"] = _command_line
    environment.filters["environment_line"] = _environment_line
    template = environment.get_template("supervisord.conf.j2")
    return template.render(config=config, programs=list(programs))


def _environment(folder: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 -- NGINX configuration, not HTML
    )


def _supervisor_value(value: object) -> str:
    # supervisord expands %(name)s in its values: a literal % must be doubled.
    text = str(value)
    if "\n" in text:
        raise ValueError(f"a supervisord value cannot span lines: {text!r}")
    return text.replace("%", "%%")


def _command_line(command: Iterable[str]) -> str:
    # supervisord splits `command` with shlex, so shlex quoting round-trips.
    return _supervisor_value(shlex.join(command))


def _environment_line(variables: Mapping[str, str]) -> str:
    return ",".join(f"{name}={_supervisor_value(_quoted(value))}" for name, value in variables.items())


def _quoted(value: str) -> str:
    # supervisord reads KEY="value" pairs with shlex: quote, and escape what shlex would eat.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reachable_by_others(folder: Path) -> bool:
    for ancestor in [folder, *folder.parents]:
        if ancestor.exists() and not ancestor.stat().st_mode & 0o001:
            return False
    return True


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True

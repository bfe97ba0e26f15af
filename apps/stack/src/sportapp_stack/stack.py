"""The local stack as one object: render its files, start it under supervisord, watch it, stop it.

The ``sportapp`` command and the tests drive the stack through :class:`Stack` only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sportapp_core.adapters.argon2_hasher import Argon2Parameters
from sportapp_ops.nginx import Nginx, NginxConfigError, render_admission, write_atomically
from sportapp_ops.supervisor import ProgramInfo, Supervisor
from sportapp_stack.backends import drop_run_stores
from sportapp_stack.config import HOST, STATE_FILE, StackConfig
from sportapp_stack.health import health_session, part_health
from sportapp_stack.openapi import write_openapi
from sportapp_stack.processes import live_pids, wait_groups_gone
from sportapp_stack.programs import Program, programs
from sportapp_stack.render import (
    gateway_in_flight_bound,
    render_nginx,
    render_registro_upstream,
    render_supervisord,
)

# supervisord states after which a part will not come up by itself.
_GIVEN_UP = frozenset({"FATAL", "EXITED", "STOPPED", "UNKNOWN"})
# How long supervisord may take to open its socket once it has daemonized.
_SUPERVISORD_ANSWER_S = 10.0
_POLL_S = 0.2
# Answers in a row before a part counts as healthy: one 200 is one worker's, and a worker's first
# answer may come before another worker of the same part has booted.
_HEALTHY_STREAK = 3
SUPERVISORD_LOG_PART = "supervisord"


class StackError(RuntimeError):
    """The stack could not be rendered, started, reached or stopped; the message says which part."""


@dataclass(frozen=True, slots=True)
class PartStatus:
    """What one part is doing: supervisord's view (state, pid) and its health check's answer."""

    name: str
    state: str
    pid: int | None
    healthy: bool
    health: str
    health_url: str

    def as_dict(self) -> dict[str, Any]:
        """This status as plain JSON-ready data."""
        return asdict(self)


class Stack:
    """One local stack: the parts of :func:`~sportapp_stack.programs.programs` under one supervisord."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.programs: list[Program] = programs(config)
        self.supervisor = Supervisor(str(config.socket))
        self.nginx = Nginx(config.nginx_bin, config.nginx_dir, config.nginx_config)

    @classmethod
    def load(cls, var_dir: Path) -> Stack:
        """The stack that ``up`` started from ``var_dir`` (it saves its configuration there)."""
        state = var_dir.resolve() / STATE_FILE
        try:
            return cls(StackConfig.from_json(state.read_text()))
        except FileNotFoundError:
            raise StackError(f"no stack in {var_dir}: start one with `sportapp up`") from None

    def program(self, name: str) -> Program:
        """The part called ``name``."""
        for program in self.programs:
            if program.name == name:
                return program
        raise StackError(f"no part called {name!r}; the parts are {', '.join(self.part_names())}")

    def part_names(self) -> list[str]:
        """Every part's name, in start order."""
        return [program.name for program in self.programs]

    # --- files ---------------------------------------------------------------------------------

    def render(self) -> None:
        """Write every configuration file into the work folder and check NGINX's with ``nginx -t``."""
        if self.config.registrations_in_flight is None:
            bound = gateway_in_flight_bound(Argon2Parameters.from_env(os.environ), os.cpu_count() or 1)
            self.config = dataclasses.replace(self.config, registrations_in_flight=bound)
        config = self.config
        for folder in (config.var_dir, config.nginx_dir, config.nginx_dir / "temp"):
            folder.mkdir(parents=True, exist_ok=True)
            # NGINX's workers may run as another user: they must reach what they serve.
            folder.chmod(0o755)
        for folder in (config.logs_dir, config.data_dir, config.faults_dir):
            folder.mkdir(parents=True, exist_ok=True)
        write_atomically(config.upstream_file, render_registro_upstream(config))
        write_atomically(config.admission_file, render_admission(config.admission_template, bounded=True))
        write_atomically(config.nginx_config, render_nginx(config))
        write_openapi(config.openapi_file, server_url=config.gateway_url)
        write_atomically(config.supervisord_config, render_supervisord(config, self.programs))
        write_atomically(config.var_dir / STATE_FILE, config.to_json() + "\n")
        try:
            self.nginx.test()
        except FileNotFoundError:
            raise StackError(f"NGINX is not installed at {config.nginx_bin} (see scripts/setup)") from None
        except NginxConfigError as error:
            raise StackError(f"nginx -t refused {config.nginx_config}: {error}") from None

    # --- start ---------------------------------------------------------------------------------

    def start(self, *, fresh: bool = False) -> None:
        """Render, start supervisord and every part, and return once all are healthy.

        If any part is not healthy in time, everything started is stopped again before the
        error is raised: a failed ``up`` leaves no process behind.
        """
        if self.supervisord_running():
            raise StackError(f"a stack already runs from {self.config.var_dir}: `sportapp down` first")
        self._check_ports_free()
        if fresh:
            shutil.rmtree(self.config.data_dir, ignore_errors=True)
        self.render()
        for stale in (self.config.socket, self.config.supervisord_pidfile):
            stale.unlink(missing_ok=True)
        output = self.config.logs_dir / "supervisord.out"
        with output.open("ab") as sink:
            # supervisord daemonizes: this returns once it has forked into the background.
            started = subprocess.run(
                [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.config.supervisord_config)],
                cwd=self.config.root,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=30,
                check=False,
            )
        if started.returncode != 0:
            raise StackError(f"supervisord did not start:\n{_tail(output, 20)}")
        deadline = time.monotonic() + self.config.start_timeout_s
        try:
            first = [program for program in self.programs if not program.after_the_others]
            self.wait_healthy(first, timeout_s=self.config.start_timeout_s)
            last = [program for program in self.programs if program.after_the_others]
            for program in last:
                self.supervisor.start(program.name, wait=False)
            self.wait_healthy(last, timeout_s=max(1.0, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise

    def wait_healthy(
        self, programs: Iterable[Program] | None = None, timeout_s: float | None = None
    ) -> None:
        """Wait until every part (of ``programs``, default all) runs and its health check answers
        200; fail fast on a dead part."""
        timeout_s = self.config.start_timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()
        deadline = started + timeout_s
        waited_for = self.programs if programs is None else programs
        pending = {program.name: program for program in waited_for}
        last_health: dict[str, str] = {}
        streaks: dict[str, int] = {}
        with health_session() as http:
            while True:
                infos = self._program_infos()
                if infos is None and time.monotonic() - started > _SUPERVISORD_ANSWER_S:
                    raise StackError(
                        f"supervisord does not answer on {self.config.socket}:\n"
                        + self.tail(SUPERVISORD_LOG_PART, 20)
                    )
                for name, program in list(pending.items()):
                    info = (infos or {}).get(name)
                    if info is None:
                        continue
                    if info.state in _GIVEN_UP:
                        raise StackError(
                            f"{name} is {info.state} ({info.description}); its log ends with:\n"
                            + self.tail(name, 30)
                        )
                    if info.state == "RUNNING":
                        healthy, last_health[name] = part_health(http, program)
                        streaks[name] = streaks.get(name, 0) + 1 if healthy else 0
                        if streaks[name] >= _HEALTHY_STREAK:
                            del pending[name]
                if not pending:
                    return
                if time.monotonic() > deadline:
                    lines = [
                        f"  {name}: {last_health.get(name, 'not running yet')} ({program.health_url})"
                        for name, program in pending.items()
                    ]
                    raise StackError(
                        f"not healthy after {timeout_s:g} s:\n" + "\n".join(lines)
                        + "\n" + "\n".join(self.tail(name, 10) for name in pending)
                    )
                time.sleep(_POLL_S)

    # --- watch -----------------------------------------------------------------------------------

    def supervisord_running(self) -> bool:
        """Whether this stack's supervisord answers on its socket."""
        return self._program_infos() is not None

    def supervisord_pid(self) -> int | None:
        """supervisord's pid, from its pid file."""
        try:
            return int(self.config.supervisord_pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def status(self) -> list[PartStatus]:
        """Every part's state, pid and health, in start order."""
        infos = self._program_infos()
        with health_session() as http, ThreadPoolExecutor(max_workers=len(self.programs)) as pool:
            checks = list(pool.map(lambda p: part_health(http, p), self.programs))
        statuses = []
        for program, (healthy, health) in zip(self.programs, checks, strict=True):
            info = (infos or {}).get(program.name)
            if not program.health_url:
                healthy = healthy and info is not None and info.state == "RUNNING"
            statuses.append(
                PartStatus(
                    name=program.name,
                    state=info.state if info else "ABSENT",
                    pid=info.pid if info and info.pid else None,
                    healthy=healthy,
                    health=health,
                    health_url=program.health_url,
                )
            )
        return statuses

    # --- stop ------------------------------------------------------------------------------------

    def stop(self, timeout_s: float = 30.0) -> list[int]:
        """Stop every part through supervisord, shut supervisord down, wait until no process is left.

        Parts stop in reverse start order, the gateway first, so no request reaches a stopping
        service. Returns the pids that outlived the wait and had to be killed (normally none).
        """
        groups: set[int] = set()
        supervisord = self.supervisord_pid()
        if supervisord is not None:
            groups.add(supervisord)
        infos = self._program_infos()
        if infos is not None:
            # supervisord puts each program in a process group of its own, led by the program.
            groups |= {info.pid for info in infos.values() if info.pid}
            for program in reversed(self.programs):
                if program.name in infos:
                    with contextlib.suppress(xmlrpc.client.Fault, OSError):
                        self.supervisor.stop(program.name)
            with contextlib.suppress(xmlrpc.client.Fault, OSError):
                self.supervisor.shutdown()
        elif supervisord is not None and live_pids([supervisord]):
            # Alive but deaf (its socket is gone): SIGTERM makes it stop its programs and exit.
            with contextlib.suppress(ProcessLookupError):
                os.kill(supervisord, signal.SIGTERM)
        leftovers = wait_groups_gone(groups, timeout_s)
        if self.config.run_database and not self.config.keep_database:
            drop_run_stores(self.config)
        return leftovers

    # --- logs ------------------------------------------------------------------------------------

    def log_files(self, part: str) -> list[Path]:
        """The files a part writes its logs to (``supervisord`` names supervisord's own)."""
        if part == SUPERVISORD_LOG_PART:
            return [self.config.logs_dir / "supervisord.log"]
        program = self.program(part)
        return [self.config.logs_dir / f"{program.name}.log", *program.extra_logs]

    def tail(self, part: str, lines: int = 50) -> str:
        """The last ``lines`` lines of each of a part's log files, each under a header."""
        return "\n".join(f"==> {path} <==\n{_tail(path, lines)}" for path in self.log_files(part))

    # --- helpers ---------------------------------------------------------------------------------

    def _program_infos(self) -> dict[str, ProgramInfo] | None:
        try:
            return {info.name: info for info in self.supervisor.all()}
        except (OSError, xmlrpc.client.Error):
            return None

    def _check_ports_free(self) -> None:
        for name, port in self.config.ports().items():
            with socket.socket() as probe:
                # As gunicorn and NGINX bind: connections of a stack just stopped, left in
                # TIME_WAIT, do not keep a port, but a process listening on it does.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((HOST, port))
                except OSError:
                    raise StackError(f"port {port} ({name}) is in use on {HOST}") from None


def _tail(path: Path, lines: int) -> str:
    try:
        with path.open(errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip("\n")
    except FileNotFoundError:
        return "(no such file yet)"



"""The scenarios: which fault is injected into which part, when, and how.

Each fault is injected at an instant recorded on ``time.monotonic()`` (one clock for every process
on Linux), so the report measures detection and failover from the very instant of the fault.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

from sportapp_stack.redundancy import PRIMARY
from sportapp_stack.stack import Stack


@dataclass(frozen=True, slots=True)
class InjectedFault:
    """A fault as it happened: what, to which part, and when."""

    name: str
    target: str
    t_mono: float
    t_unix: float
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """For the report and the analysis."""
        return asdict(self)


class FaultNotInjected(RuntimeError):
    """The fault could not be injected (no process to signal): the run is not evidence of it."""


class FaultInjector:
    """Injects faults into the parts of a running stack."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    def pid(self, part: str) -> int:
        """The pid (and process group) of ``part``, from supervisord."""
        return self._stack.supervisor.info(part).pid

    def signal_group(self, name: str, part: str, signum: signal.Signals) -> InjectedFault:
        """Send ``signum`` to ``part``'s whole process group (gunicorn's master and workers)."""
        pid = self.pid(part)
        if not pid:
            raise FaultNotInjected(f"{name}: {part} has no process to send {signum.name} to")
        fault = _now(name, part, f"{signum.name} to process group {pid}")
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            raise FaultNotInjected(f"{name}: process group {pid} of {part} is gone") from None
        return fault

    def kill(self, part: str) -> InjectedFault:
        """``kill -9`` of ``part``'s process group."""
        return self.signal_group("kill", part, signal.SIGKILL)

    def hang(self, part: str) -> InjectedFault:
        """SIGSTOP: the part accepts connections (the kernel does) and never answers."""
        return self.signal_group("hang", part, signal.SIGSTOP)

    def resume(self, part: str, pid: int) -> InjectedFault:
        """SIGCONT to the group that was stopped (it may have been killed and replaced since)."""
        fault = _now("resume", part, f"SIGCONT to process group {pid}")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)
        return fault

    def error_mode(self, part: str, on: bool, *, within_s: float = 20.0) -> InjectedFault:
        """Turn registro's fault switch on or off, on the instance's own port (not the gateway).

        The switch outlives the instance's restarts (it is a file), so while it is on the monitor
        keeps restarting the instance: the call is retried until the instance answers it.
        """
        port = self._stack.config.ports()[part]
        fault = _now("error-mode-on" if on else "error-mode-off", part)
        switch_error_mode(f"{self._stack.config.url(port)}/faults/error-mode", on, within_s=within_s)
        return fault

    def restart(self, part: str) -> InjectedFault:
        """Restart ``part`` through supervisord (stop, then start)."""
        fault = _now("restart", part)
        self._stack.supervisor.restart(part)
        return fault


def switch_error_mode(url: str, on: bool, *, within_s: float) -> None:
    """PUT the fault switch at ``url``, retried while the instance is between two of its lives."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            requests.put(url, json={"enabled": on}, timeout=5).raise_for_status()
            return
        except requests.ConnectionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def _now(name: str, target: str, detail: str = "") -> InjectedFault:
    return InjectedFault(name, target, time.monotonic(), time.time(), detail)


Step = Callable[[FaultInjector, "ScenarioRun"], None]


@dataclass
class ScenarioRun:
    """The faults a scenario injected so far, and the state its steps share."""

    faults: list[InjectedFault] = field(default_factory=list)
    stopped_pid: int | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named list of steps, each at a share of the run's duration (or a fixed offset after it)."""

    name: str
    description: str
    steps: tuple[tuple[float, float, Step], ...] = ()
    # Stack switches the scenario needs.
    fault_injection: bool = False
    seed_crash: bool = False
    invalid_emails: int = 0


def _kill_primary(injector: FaultInjector, run: ScenarioRun) -> None:
    run.faults.append(injector.kill(PRIMARY))


def _hang_primary(injector: FaultInjector, run: ScenarioRun) -> None:
    run.stopped_pid = injector.pid(PRIMARY)
    run.faults.append(injector.hang(PRIMARY))


def _resume_primary(injector: FaultInjector, run: ScenarioRun) -> None:
    if run.stopped_pid:
        injector.resume(PRIMARY, run.stopped_pid)


def _errors_on(injector: FaultInjector, run: ScenarioRun) -> None:
    run.faults.append(injector.error_mode(PRIMARY, True))


def _errors_off(injector: FaultInjector, run: ScenarioRun) -> None:
    # Not a fault: the end of one. The instance recovers by itself, as the monitor restarts it.
    injector.error_mode(PRIMARY, False)


def _kill_consulta(injector: FaultInjector, run: ScenarioRun) -> None:
    run.faults.append(injector.kill("consulta"))


def _restart_db(injector: FaultInjector, run: ScenarioRun) -> None:
    run.faults.append(injector.restart("db"))


def _kill_monitor(injector: FaultInjector, run: ScenarioRun) -> None:
    run.faults.append(injector.kill("monitor"))


def _kill_primary_again(injector: FaultInjector, run: ScenarioRun) -> None:
    # A primary that crashes again right after each restart: wait for the new process, kill it.
    deadline = time.monotonic() + 15
    previous = {fault.detail for fault in run.faults}
    while time.monotonic() < deadline:
        pid = injector.pid(PRIMARY)
        if pid and f"SIGKILL to process group {pid}" not in previous:
            time.sleep(0.3)  # let it start answering, so the crash is "right after the restart"
            run.faults.append(injector.kill(PRIMARY))
            return
        time.sleep(0.05)
    raise FaultNotInjected("kill-primary-again: no restarted primary to kill within 15 s")


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("baseline", "no fault: the yardstick for every other scenario"),
        Scenario(
            "kill-primary", "kill -9 of the registro primary's process group",
            steps=((0.3, 0.0, _kill_primary),),
        ),
        Scenario(
            "hang-primary", "SIGSTOP of the primary (accepts, never answers), SIGCONT 5 s later",
            steps=((0.3, 0.0, _hang_primary), (0.3, 5.0, _resume_primary)),
        ),
        Scenario(
            "error-primary", "the primary's fault switch: 500 to every request, for 30% of the run",
            steps=((0.3, 0.0, _errors_on), (0.6, 0.0, _errors_off)),
            fault_injection=True,
        ),
        Scenario(
            "seed-crash",
            "the seed's fault: an invalid e-mail address brings the registro instance down",
            seed_crash=True,
            invalid_emails=3,
        ),
        Scenario(
            "kill-consulta", "kill -9 of consulta (supervisord restarts it; it catches up)",
            steps=((0.3, 0.0, _kill_consulta),),
        ),
        Scenario(
            "restart-db", "restart of the db service (the shared dependency of both registros)",
            steps=((0.3, 0.0, _restart_db),),
        ),
        Scenario(
            "kill-monitor", "kill -9 of the monitor, then of the primary while it is restarting",
            steps=((0.3, 0.0, _kill_monitor), (0.3, 0.3, _kill_primary)),
        ),
        Scenario(
            "flapping-primary", "the primary is killed, and killed again right after each restart",
            steps=(
                (0.2, 0.0, _kill_primary),
                (0.2, 0.1, _kill_primary_again),
                (0.2, 0.2, _kill_primary_again),
            ),
        ),
    )
}


class ScenarioPlayer:
    """Plays a scenario's steps on a thread, at their instants after ``start``."""

    def __init__(self, scenario: Scenario, injector: FaultInjector, duration_s: float) -> None:
        self.run = ScenarioRun()
        self._scenario = scenario
        self._injector = injector
        self._duration_s = duration_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="faults", daemon=True)
        self.errors: list[str] = []
        self._started = 0.0

    def start(self) -> None:
        """Start the clock of the scenario now."""
        self._started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        """Skip the steps not yet played, and wait for the one in progress."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _play(self) -> None:
        # Steps run in order; a step's time is a share of the duration plus a fixed offset.
        for share, offset, step in self._scenario.steps:
            due = self._started + share * self._duration_s + offset
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            try:
                step(self._injector, self.run)
            except Exception as error:  # a failed injection is reported, not fatal to the run
                self.errors.append(f"{step.__name__}: {error!r}")

"""Stopping process groups, with real processes started in sessions of their own."""

from __future__ import annotations

import subprocess
import sys
import time

from sportapp_stack.processes import live_pids, stop_groups

# A leader that starts a child in its group, then sleeps; with "ignore", it shrugs off SIGTERM.
LEADER = """
import signal, subprocess, sys, time
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print("ready", flush=True)
time.sleep(60)
"""


def _start(mode: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-c", LEADER, mode], stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None
    with process.stdout:
        assert process.stdout.readline() == b"ready\n"
    return process


def test_every_group_is_asked_to_stop_and_its_children_go_with_it() -> None:
    processes = [_start("obey"), _start("obey")]
    stop_groups(processes, timeout_s=10)
    # Ended by SIGTERM, not by the SIGKILL that follows the timeout.
    assert [process.returncode for process in processes] == [-15, -15]
    _eventually_gone({process.pid for process in processes})


def test_a_group_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    process = _start("ignore")
    stop_groups([process], timeout_s=0.5)
    assert process.returncode == -9
    _eventually_gone({process.pid})


def _eventually_gone(groups: set[int]) -> None:
    # The leader is reaped at once; its child, killed with the group, is reaped by init.
    deadline = time.monotonic() + 5
    while live_pids(groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_pids(groups) == []

"""What /proc says of the stack's processes (which are alive, how much CPU each group used), and
waiting for process groups to end.

A program under supervisord is the leader of its own process group (gunicorn's workers, a
shell's children all in it), so a part of the stack is one process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessStat:
    pid: int
    state: str
    group: int
    # user + system time, with that of its reaped children (a restarted worker's stays counted)
    cpu_s: float


def process_stats() -> Iterator[ProcessStat]:
    """Every process /proc lists now (one that ends while being read is skipped)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ... utime stime cutime cstime ...": comm may hold spaces
        # and parentheses, so the fields are counted from the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
        yield ProcessStat(
            pid=int(entry.name),
            state=fields[0],
            group=int(fields[2]),
            cpu_s=(utime + stime + cutime + cstime) / _TICKS_PER_S,
        )


def live_pids(groups: Iterable[int]) -> list[int]:
    """Pids of the processes still alive (zombies excepted) in any of the process ``groups``."""
    wanted = set(groups)
    return [p.pid for p in process_stats() if p.group in wanted and p.state not in ("Z", "X")]


def group_cpu_s(groups: Iterable[int]) -> dict[int, float]:
    """CPU seconds used so far by every process in each of the process ``groups``."""
    totals = dict.fromkeys(set(groups), 0.0)
    for process in process_stats():
        if process.group in totals:
            totals[process.group] += process.cpu_s
    return totals


def wait_groups_gone(groups: set[int], timeout_s: float) -> list[int]:
    """Wait up to ``timeout_s`` for every process of ``groups`` to end, then SIGKILL the groups;
    return the pids that were still alive at the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not live_pids(groups):
            return []
        time.sleep(0.1)
    leftovers = live_pids(groups)
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    return leftovers


def stop_groups(processes: Sequence[subprocess.Popen[bytes]], timeout_s: float) -> None:
    """SIGTERM the process group each of ``processes`` leads (started with
    ``start_new_session=True``), all at once; SIGKILL the group of any leader still running
    ``timeout_s`` after."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

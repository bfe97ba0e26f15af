"""A fault is recorded only when it was injected: a signal with no process to receive it fails."""

from __future__ import annotations

import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest

from sportapp_lab.faults import FaultInjector, FaultNotInjected


class FakeStack:
    """Just what the injector reads: supervisord's pid for a part."""

    def __init__(self, pid: int) -> None:
        self.supervisor = SimpleNamespace(info=lambda part: SimpleNamespace(pid=pid))


def sleeper() -> subprocess.Popen[bytes]:
    # A process group of its own, as supervisord starts every part.
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)


def test_a_part_without_a_process_is_not_faulted() -> None:
    with pytest.raises(FaultNotInjected, match="no process"):
        FaultInjector(FakeStack(0)).kill("registro-primary")  # type: ignore[arg-type]


def test_a_process_group_already_gone_is_not_faulted() -> None:
    gone = sleeper()
    gone.kill()
    gone.wait(timeout=10)

    with pytest.raises(FaultNotInjected, match="gone"):
        FaultInjector(FakeStack(gone.pid)).hang("registro-primary")  # type: ignore[arg-type]


def test_a_signal_delivered_is_recorded_with_its_target() -> None:
    target = sleeper()
    try:
        fault = FaultInjector(FakeStack(target.pid)).kill("registro-primary")  # type: ignore[arg-type]
        assert target.wait(timeout=10) == -signal.SIGKILL
    finally:
        if target.poll() is None:
            target.kill()
            target.wait(timeout=10)

    assert (fault.name, fault.target) == ("kill", "registro-primary")
    assert fault.detail == f"SIGKILL to process group {target.pid}"

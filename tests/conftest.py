"""Fixtures shared by every test folder: the whole local stack (real supervisord, gunicorn, NGINX)
on free ports of 127.0.0.1, started once per session, and only when a test asks for it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import xmlrpc.client
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sportapp_stack.config import StackConfig, free_ports
from sportapp_stack.processes import live_pids
from sportapp_stack.stack import Stack

REPO = Path(__file__).resolve().parents[1]


def work_dir(prefix: str) -> Path:
    """A fresh work folder that NGINX's workers (``nobody`` when we are root) can read.

    pytest's tmp_path is closed to other users, and a short path keeps supervisord's unix socket
    under the 107-byte limit.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


def stack_config(var_dir: Path, **overrides: Any) -> StackConfig:
    """A stack in ``var_dir`` on free ports; ``overrides`` set any other field."""
    gateway, db, consulta, primary, backup, monitor = free_ports(6)
    settings: dict[str, Any] = {
        "gateway_port": gateway,
        "db_port": db,
        "consulta_port": consulta,
        "registro_primary_port": primary,
        "registro_backup_port": backup,
        "monitor_port": monitor,
        **overrides,
    }
    return StackConfig(var_dir=var_dir, root=REPO, **settings)


def process_groups(stack: Stack) -> set[int]:
    """supervisord's and every running part's process group (each led by its pid)."""
    groups = set()
    pid = stack.supervisord_pid()
    if pid is not None:
        groups.add(pid)
    with contextlib.suppress(OSError, xmlrpc.client.Error):
        groups |= {info.pid for info in stack.supervisor.all() if info.pid}
    return groups


def kill_groups(groups: Iterable[int]) -> list[int]:
    """SIGKILL whatever still lives in ``groups``; return the pids that were still alive."""
    groups = set(groups)
    alive = live_pids(groups)
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    return alive


@contextlib.contextmanager
def running_stack(prefix: str, **overrides: Any) -> Iterator[Stack]:
    """Start a stack, and always stop it again (then kill any process group that survived)."""
    var_dir = work_dir(prefix)
    stack = Stack(stack_config(var_dir, **overrides))
    groups: set[int] = set()
    try:
        stack.start()
        groups |= process_groups(stack)
        yield stack
    finally:
        # Parts restarted by a test have new pids: collect them again before stopping.
        groups |= process_groups(stack)
        stack.stop()
        leftovers = kill_groups(groups)
        shutil.rmtree(var_dir, ignore_errors=True)
    assert not leftovers, f"processes outlived `down` and were killed: {leftovers}"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The whole stack, healthy, for the session: the tests reach it through its gateway."""
    with running_stack("sportapp-session-") as started:
        yield started

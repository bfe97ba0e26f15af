"""`sportapp up`, `status` and `down` as a user runs them: nothing left behind, failures named."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sportapp_ops.event_log import read_events
from sportapp_stack.processes import live_pids
from sportapp_stack.stack import Stack, StackError
from tests.conftest import REPO, kill_groups, process_groups, stack_config, work_dir

pytestmark = [pytest.mark.integration, pytest.mark.stack]

SPORTAPP = str(Path(sys.executable).parent / "sportapp")
COMMAND_TIMEOUT_S = 120


# A stack left idle after `up` must not report any of these (the monitor's events).
INCIDENTS = {"down", "restart_issued", "failover_started", "failback_started", "start_grace_expired"}
IDLE_S = 15.0


def _sportapp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SPORTAPP, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


def _port_options(stack: Stack) -> list[str]:
    config = stack.config
    return [
        f"--gateway-port={config.gateway_port}",
        f"--db-port={config.db_port}",
        f"--consulta-port={config.consulta_port}",
        f"--registro-primary-port={config.registro_primary_port}",
        f"--registro-backup-port={config.registro_backup_port}",
    ]


@pytest.fixture
def unstarted() -> Iterator[Stack]:
    """A stack configuration on free ports that a test starts itself; always cleaned up after."""
    var_dir = work_dir("sportapp-life-")
    stack = Stack(stack_config(var_dir))
    try:
        yield stack
    finally:
        groups = process_groups(stack)
        stack.stop()
        kill_groups(groups)
        shutil.rmtree(var_dir, ignore_errors=True)


def test_up_status_down_leave_no_process_behind(unstarted: Stack) -> None:
    var = f"--var-dir={unstarted.config.var_dir}"

    up = _sportapp("up", var, *_port_options(unstarted))
    assert up.returncode == 0, up.stdout + up.stderr
    time.sleep(IDLE_S)
    status = _sportapp("status", var, "--json")
    incidents = [
        event for event in read_events(unstarted.config.monitor_event_log) if event["event"] in INCIDENTS
    ]
    document: dict[str, Any] = json.loads(status.stdout)
    groups = {part["pid"] for part in document["parts"]} | {document["supervisord"]["pid"]}
    down = _sportapp("down", var)
    after = _sportapp("status", var, "--json")

    assert status.returncode == 0
    assert [part["name"] for part in document["parts"]] == unstarted.part_names()
    assert all(part["state"] == "RUNNING" and part["healthy"] for part in document["parts"])
    # A clean start: the monitor waited for every part to come up once before judging it.
    assert incidents == []
    assert None not in groups
    assert down.returncode == 0, down.stdout + down.stderr
    assert live_pids(groups) == []
    assert after.returncode == 1
    assert {part["state"] for part in json.loads(after.stdout)["parts"]} == {"ABSENT"}
    assert not unstarted.config.socket.exists()


def test_up_refuses_a_port_in_use_before_starting_anything(unstarted: Stack) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", unstarted.config.gateway_port))
        squatter.listen()

        with pytest.raises(StackError, match=f"port {unstarted.config.gateway_port} \\(gateway\\)"):
            unstarted.start()

    assert not unstarted.supervisord_running()
    assert not unstarted.config.supervisord_pidfile.exists()


def test_a_part_that_cannot_start_is_named_and_everything_is_stopped() -> None:
    var_dir = work_dir("sportapp-broken-")
    # SQLAlchemy has no driver for this URL: db's workers fail to boot, and gunicorn gives up.
    stack = Stack(stack_config(var_dir, store_url="nosuchdatabase://nowhere", start_timeout_s=30.0))
    groups: set[int] = set()
    try:
        with pytest.raises(StackError, match="db") as failure:
            stack.start()
        groups = process_groups(stack)

        assert not stack.supervisord_running()
        assert "registro" not in str(failure.value).split("\n", 1)[0]
    finally:
        stack.stop()
        leftovers = kill_groups(groups)
        shutil.rmtree(var_dir, ignore_errors=True)
    assert leftovers == []

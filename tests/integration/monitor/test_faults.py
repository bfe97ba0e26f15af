"""The monitor on the real stack: faults injected while a client keeps registering through the
gateway. In each, no acknowledged registration is lost or duplicated, and the monitor's state ends
consistent with what NGINX routes to."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sportapp_lab.faults import switch_error_mode
from sportapp_lab.load import run_load_sync
from sportapp_lab.records import RequestRecord
from sportapp_lab.verification import verify_registrations
from sportapp_lab.workload import LoadConfig
from sportapp_ops.event_log import read_events
from sportapp_ops.nginx import read_route
from sportapp_stack.redundancy import BACKUP, PRIMARY, monitor_status, wait_redundant
from sportapp_stack.stack import Stack
from tests.conftest import free_ports, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.stack]



# The monitor's restart back-off, shortened so that a flapping primary plays out in seconds, and
# fail-back on: these tests follow the primary out and back in (the default keeps the restarted
# primary as the standby: test_no_failback.py). The stack's processes inherit the environment
# supervisord starts with.
FAST_BACK_OFF = {
    "SPORTAPP_RESTART_BACKOFF_S": "0.2",
    "SPORTAPP_RESTART_BACKOFF_MAX_S": "2",
    "SPORTAPP_RESTART_GRACE_S": "2",
    "SPORTAPP_STABLE_AFTER_S": "3",
    "SPORTAPP_FAIL_BACK": "true",
}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """A stack of this module's own, with registro's fault switch and a fast restart back-off."""
    saved = {name: os.environ.get(name) for name in FAST_BACK_OFF}
    os.environ.update(FAST_BACK_OFF)
    try:
        with running_stack("sportapp-monitor-", fault_injection=True) as started:
            yield started
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def nominal(stack: Stack) -> Iterator[None]:
    """Every test starts (and ends) with the primary active and both instances ready."""
    wait_nominal(stack)
    yield
    subprocess.run(  # a test that stopped the monitor program starts it again
        [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(stack.config.supervisord_config),
         "start", "monitor"], capture_output=True, timeout=30, check=False,
    )
    wait_nominal(stack)


def wait_nominal(stack: Stack, timeout_s: float = 45.0) -> None:
    """Until the primary takes the registrations again with both instances up and ready, and the
    monitor, the upstream file and NGINX agree on it."""
    wait_redundant(stack.config, active=PRIMARY, timeout_s=timeout_s)
    assert_consistent(stack)


def assert_consistent(stack: Stack) -> None:
    """The monitor, the rendered upstream file and NGINX's live configuration name one instance."""
    route = read_route(stack.config.upstream_file)
    assert route is not None
    generation, active, _standby, _masking = route
    live = requests.get(stack.config.gateway_url + "/user-commands/users/register", timeout=2)
    monitor = monitor_status(stack.config)
    assert live.headers["X-Upstream-Active"] == active == monitor["active"]
    assert live.headers["X-Upstream-Generation"] == str(generation) == str(monitor["generation"])


def events_since(stack: Stack, since: float) -> list[dict[str, Any]]:
    return [e for e in read_events(stack.config.monitor_event_log) if e["t_mono"] >= since]


def pid_of(stack: Stack, part: str) -> int:
    return stack.supervisor.info(part).pid


def register_while(
    stack: Stack, fault: Callable[[], None], *, at_s: float = 1.5, duration_s: float = 7.0
) -> list[RequestRecord]:
    """Register at 15/s through the gateway for ``duration_s``, calling ``fault`` at ``at_s``."""
    errors: list[BaseException] = []

    def inject() -> None:
        time.sleep(at_s)
        try:
            fault()
        except BaseException as error:  # surfaced by the test, not lost in the thread
            errors.append(error)

    injector = threading.Thread(target=inject)
    injector.start()
    records = run_load_sync(
        LoadConfig(base_url=stack.config.gateway_url, rate=15, duration_s=duration_s, read_share=0.0)
    )
    injector.join(timeout=60)
    assert not errors, errors
    return records


def assert_nothing_lost_or_duplicated(stack: Stack, records: list[RequestRecord]) -> None:
    verification = verify_registrations(
        records,
        store_url=stack.config.write_store_url,
        read_store_url=stack.config.consulta_store_url,
    )
    assert verification.acknowledged > 0
    assert verification.lost == 0, verification
    assert verification.duplicated == 0, verification
    assert verification.acknowledged_id_mismatch == 0, verification


def failures(records: list[RequestRecord]) -> list[RequestRecord]:
    return [record for record in records if not record.ok]


def test_kill_9_of_the_primary_is_masked_failed_over_restarted_and_failed_back(stack: Stack) -> None:
    started = time.monotonic()

    records = register_while(stack, lambda: os.killpg(pid_of(stack, PRIMARY), signal.SIGKILL))
    wait_nominal(stack)

    assert failures(records) == []
    assert {r.served_by for r in records} == {PRIMARY, BACKUP}
    assert_nothing_lost_or_duplicated(stack, records)
    names = [e["event"] for e in events_since(stack, started)]
    for expected in ("down", "failover_started", "config_live", "restart_issued", "ready", "failback_done"):
        assert expected in names


def test_a_hung_primary_is_detected_and_replaced(stack: Stack) -> None:
    started = time.monotonic()
    hung: list[int] = []

    def hang() -> None:
        hung.append(pid_of(stack, PRIMARY))
        os.killpg(hung[0], signal.SIGSTOP)

    try:
        records = register_while(stack, hang, duration_s=8.0)
        wait_nominal(stack)
    finally:
        for group in hung:  # the monitor's restart killed it; if not, do not leave it stopped
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGCONT)

    downs = [e for e in events_since(stack, started) if e["event"] == "down" and e["target"] == PRIMARY]
    assert downs, "the hang was never detected"
    assert "timeout" in downs[0]["reason"]
    assert_nothing_lost_or_duplicated(stack, records)
    # Requests caught in the hang are retried by NGINX on the standby; none may fail afterwards.
    switched = next(e["t_mono"] for e in events_since(stack, started) if e["event"] == "failover_done")
    assert [r for r in failures(records) if r.scheduled_at > switched + 1.0] == []


def test_a_primary_answering_500_is_masked_failed_over_and_back(stack: Stack) -> None:
    primary_url = stack.config.url(stack.config.registro_primary_port) + "/faults/error-mode"
    started = time.monotonic()
    try:
        records = register_while(stack, lambda: switch_error_mode(primary_url, True, within_s=5))
    finally:
        # The monitor is restarting the failing primary meanwhile: retried until it answers.
        switch_error_mode(primary_url, False, within_s=30)
    wait_nominal(stack)

    events = events_since(stack, started)
    assert any(e["event"] == "failover_done" for e in events)
    assert_nothing_lost_or_duplicated(stack, records)
    # The load's registrations carry an Idempotency-Key: each 500 of the primary, before the
    # monitor saw it fail, was resent by the gateway to the standby.
    assert failures(records) == []
    assert BACKUP in {r.served_by for r in records}


@contextlib.contextmanager
def monitor_stopped(stack: Stack) -> Iterator[None]:
    """The monitor stopped, so that the gateway alone decides (the nominal fixture restarts it)."""
    subprocess.run(
        [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(stack.config.supervisord_config),
         "stop", "monitor"], capture_output=True, timeout=30, check=True,
    )
    yield


def register_once(stack: Stack, key: str | None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    body = {"correo": f"once-{uuid.uuid4().hex[:12]}@example.com", "clave": "Str0ng-Passw0rd!"}
    return requests.post(
        stack.config.gateway_url + "/user-commands/users/register", json=body, headers=headers, timeout=10
    )


def test_the_gateway_resends_a_500_to_the_standby_only_for_a_keyed_registration(stack: Stack) -> None:
    with monitor_stopped(stack):
        # Whichever instance an earlier test left active (no fail-back: it may be the backup).
        route = read_route(stack.config.upstream_file)
        assert route is not None
        _, active, standby, _ = route
        port = stack.config.registro_primary_port if active == PRIMARY else stack.config.registro_backup_port
        active_url = stack.config.url(port) + "/faults/error-mode"
        switch_error_mode(active_url, True, within_s=5)
        try:
            keyed = register_once(stack, key=uuid.uuid4().hex)
            keyless = register_once(stack, key=None)
        finally:
            switch_error_mode(active_url, False, within_s=5)

    assert keyed.status_code == 201, keyed.text
    assert keyed.headers["X-Served-By"] == standby
    # Without a key the standby could not tell a resend from a new registration: the 500 stands.
    assert keyless.status_code == 500, keyless.text
    assert keyless.json()["type"].endswith("/injected-fault"), "the primary's own 500, passed through"


def test_the_gateway_resends_a_keyless_registration_the_primary_never_received(stack: Stack) -> None:
    with monitor_stopped(stack):
        stack.supervisor.stop(PRIMARY)
        try:
            keyless = register_once(stack, key=None)
        finally:
            stack.supervisor.start(PRIMARY)

    assert keyless.status_code == 201, keyless.text
    assert keyless.headers["X-Served-By"] == BACKUP


def test_a_primary_that_crashes_after_each_restart_is_restarted_with_back_off(stack: Stack) -> None:
    # Earlier tests' restarts are forgiven once the primary has been up SPORTAPP_STABLE_AFTER_S: wait
    # for it, however long this machine takes, so that this test starts from the first restart.
    deadline = time.monotonic() + 60
    while monitor_status(stack.config)["targets"][PRIMARY]["restarts"] != 0:
        assert time.monotonic() < deadline, "the primary's earlier restarts were never forgiven"
        time.sleep(0.2)
    started = time.monotonic()
    kills: list[int] = []

    def keep_killing() -> None:
        deadline = time.monotonic() + 20
        while len(kills) < 3 and time.monotonic() < deadline:
            pid = pid_of(stack, PRIMARY)
            if pid and pid not in kills:
                try:
                    os.killpg(pid, signal.SIGKILL)
                    kills.append(pid)
                except ProcessLookupError:
                    # supervisord records the pid as it forks; the child makes the process group
                    # a moment later, and a restart caught in between is killed on the next turn.
                    pass
            time.sleep(0.05)

    records = register_while(stack, keep_killing, at_s=1.0, duration_s=10.0)
    wait_nominal(stack, timeout_s=60)

    assert len(kills) == 3
    assert_nothing_lost_or_duplicated(stack, records)
    assert failures(records) == []
    delays = [e["delay_s"] for e in events_since(stack, started) if e["event"] == "restart_issued"]
    assert delays[:3] == [0.0, 0.2, 0.4]


def test_the_monitor_killed_during_a_failover_comes_back_consistent(stack: Stack) -> None:
    started = time.monotonic()

    def kill_primary_then_monitor_mid_failover() -> None:
        os.killpg(pid_of(stack, PRIMARY), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(e["event"] == "failover_started" for e in events_since(stack, started)):
                os.killpg(pid_of(stack, "monitor"), signal.SIGKILL)
                return
            time.sleep(0.005)
        raise AssertionError("no failover started")

    records = register_while(stack, kill_primary_then_monitor_mid_failover)
    wait_nominal(stack, timeout_s=60)

    assert_nothing_lost_or_duplicated(stack, records)
    assert failures(records) == []
    assert "route_adopted" in [e["event"] for e in events_since(stack, started)][1:]


def test_a_refused_upstream_keeps_the_old_route_and_raises_an_alert(stack: Stack, tmp_path: Path) -> None:
    broken = tmp_path / "registro-upstream.conf.j2"
    broken.write_text("upstream registro { server {{ route.active.address }} no_such_parameter; }\n")
    event_log = tmp_path / "events.jsonl"
    stack.supervisor.stop("monitor")
    before = read_route(stack.config.upstream_file)
    (port,) = free_ports(1)
    monitor = subprocess.Popen(
        [sys.executable, "-m", "sportapp_monitor"],
        env={
            **os.environ,
            "SPORTAPP_BIND": f"127.0.0.1:{port}",
            "SPORTAPP_PRIMARY_ADDRESS": f"127.0.0.1:{stack.config.registro_primary_port}",
            "SPORTAPP_BACKUP_ADDRESS": f"127.0.0.1:{stack.config.registro_backup_port}",
            "SPORTAPP_DB_SERVICE_URL": stack.config.db_service_url,
            "SPORTAPP_GATEWAY_URL": stack.config.gateway_url,
            "SPORTAPP_UPSTREAM_TEMPLATE": str(broken),
            "SPORTAPP_UPSTREAM_FILE": str(stack.config.upstream_file),
            "SPORTAPP_NGINX_BIN": stack.config.nginx_bin,
            "SPORTAPP_NGINX_PREFIX": str(stack.config.nginx_dir),
            "SPORTAPP_NGINX_CONFIG": str(stack.config.nginx_config),
            "SPORTAPP_SUPERVISOR_SOCKET": str(stack.config.socket),
            "SPORTAPP_EVENT_LOG": str(event_log),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # A monitor moves nothing for a target it has not yet seen up (its start grace): the fault
        # comes once this one has seen both instances up and ready.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and {PRIMARY, BACKUP} - {
            e["target"] for e in read_events(event_log) if e["event"] == "ready"
        }:
            time.sleep(0.1)
        records = register_while(
            stack, lambda: os.killpg(pid_of(stack, PRIMARY), signal.SIGKILL), duration_s=5.0
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "alert" not in [e["event"] for e in read_events(event_log)]:
            time.sleep(0.1)
        alerts = [e for e in read_events(event_log) if e["event"] == "alert"]
        live = requests.get(stack.config.gateway_url + "/user-commands/users/register", timeout=2)
        assert alerts, "no alert for a configuration nginx -t refused"
        assert "no_such_parameter" in alerts[0]["detail"]
        assert read_route(stack.config.upstream_file) == before
        assert live.headers["X-Upstream-Generation"] == str(before[0] if before else None)
        # NGINX kept its valid configuration, and masking kept registrations going.
        assert failures(records) == []
        assert_nothing_lost_or_duplicated(stack, records)
    finally:
        os.killpg(monitor.pid, signal.SIGKILL)
        monitor.wait(timeout=10)
    stack.supervisor.start("monitor")

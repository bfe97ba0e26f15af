"""The monitor's loop with fake targets, a fake gateway and a fake process manager.

The loop runs on real threads with a 10 ms interval; each test waits (bounded) for an outcome.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sportapp_core.adapters.http.session import REFUSED
from sportapp_core.health import FailoverPolicy
from sportapp_monitor.metrics import MonitorMetrics
from sportapp_monitor.probes import ProbeResult
from sportapp_monitor.upstream import SwitchNotSeenLive
from sportapp_monitor.watch import Monitor
from sportapp_ops.event_log import EventLog, read_events
from sportapp_ops.nginx import Instance, NginxConfigError, UpstreamRoute

PRIMARY, BACKUP = "registro-primary", "registro-backup"
INSTANCES = {PRIMARY: Instance(PRIMARY, "127.0.0.1:1"), BACKUP: Instance(BACKUP, "127.0.0.1:2")}


class FakeTarget:
    """A target whose echo and readiness the test turns on and off."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.alive = True
        self.is_ready = True
        self.miss_reason = "connection"
        self.readiness_asked = 0

    def ping(self) -> ProbeResult:
        reason = "" if self.alive else self.miss_reason
        return ProbeResult(self.target, time.monotonic(), self.alive, 0.001, reason)

    def ready(self) -> bool:
        self.readiness_asked += 1
        return self.alive and self.is_ready


class FakeGateway:
    """Records switches; can be told to refuse the next configuration like `nginx -t` would."""

    def __init__(self, active: str = PRIMARY) -> None:
        standby = BACKUP if active == PRIMARY else PRIMARY
        self.route = UpstreamRoute(7, INSTANCES[active], INSTANCES[standby], masking=True)
        self.switches: list[str] = []
        self.refuse = False
        self.never_live = False

    def adopt(self, default_active: str, default_standby: str) -> UpstreamRoute:
        return self.route

    def switch(self, current: UpstreamRoute, to: str) -> UpstreamRoute:
        if self.refuse:
            raise NginxConfigError("nginx: [emerg] unexpected end of file")
        standby = current.active if current.active.name != to else current.standby
        self.route = UpstreamRoute(current.generation + 1, INSTANCES[to], standby, True)
        self.switches.append(to)
        if self.never_live:
            raise SwitchNotSeenLive(self.route)
        return self.route


class FakeSupervisor:
    """Restarts bring the target back unless it is set to crash again."""

    def __init__(self, targets: dict[str, FakeTarget]) -> None:
        self.targets = targets
        self.restarted: list[str] = []
        self.crash_on_start: set[str] = set()

    def restart(self, name: str) -> None:
        self.restarted.append(name)
        if name not in self.crash_on_start:
            self.targets[name].alive = True


class FakeAdmission:
    """Records what the gateway was told: bound registrations in flight or not; can fail once."""

    def __init__(self) -> None:
        self.changes: list[bool] = []
        self.fail_next = False

    def set_bounded(self, bounded: bool, *, reason: str) -> None:
        if self.fail_next:
            self.fail_next = False
            raise NginxConfigError("nginx: [emerg] host not found in upstream")
        self.changes.append(bounded)


class Harness:
    def __init__(
        self,
        tmp_path: Path,
        *,
        active: str = PRIMARY,
        fail_back: bool = True,
        admission_lift_max_s: float = 5.0,
        readiness_interval_s: float = 0.0,
    ) -> None:
        self.targets = {PRIMARY: FakeTarget(PRIMARY), BACKUP: FakeTarget(BACKUP)}
        self.db = FakeTarget("db")
        self.gateway = FakeGateway(active)
        self.supervisor = FakeSupervisor(self.targets)
        self.log_path = tmp_path / "events.jsonl"
        self.admission = FakeAdmission()
        self.monitor = Monitor(
            policy=FailoverPolicy(PRIMARY, BACKUP, fail_back=fail_back),
            probes=dict(self.targets),
            dependency=self.db,
            switch=self.gateway,
            admission=self.admission,
            admission_lift_max_s=admission_lift_max_s,
            restart=self.supervisor.restart,
            events=EventLog(self.log_path),
            metrics=MonitorMetrics(),
            interval_s=0.01,
            rise=3,
            fall=2,
            restart_backoff_s=0.05,
            restart_backoff_max_s=0.2,
            restart_grace_s=0.1,
            stable_after_s=5.0,
            readiness_interval_s=readiness_interval_s,
        )
        self.thread = threading.Thread(target=self.monitor.run, daemon=True)

    def events(self) -> list[str]:
        return [entry["event"] for entry in read_events(self.log_path)]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    h.thread.start()
    yield h
    h.monitor.stop()
    h.thread.join(timeout=5)
    assert not h.thread.is_alive()


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError("condition not met in time")


def _both_up(h: Harness) -> bool:
    return all(t["state"] == "up" for t in h.monitor.snapshot()["targets"].values())


def test_a_dead_primary_is_replaced_by_the_backup_restarted_and_failed_back(harness: Harness) -> None:
    eventually(lambda: _both_up(harness))

    harness.targets[PRIMARY].alive = False
    harness.supervisor.crash_on_start.add(PRIMARY)
    eventually(lambda: harness.gateway.switches[:1] == [BACKUP])
    eventually(lambda: PRIMARY in harness.supervisor.restarted)
    harness.supervisor.crash_on_start.clear()
    eventually(lambda: harness.gateway.switches == [BACKUP, PRIMARY])
    # The switch is done in the gateway before the monitor records it.
    eventually(lambda: "failback_done" in harness.events())

    events = harness.events()
    for expected in ("down", "failover_started", "failover_done", "restart_issued", "ready", "failback_done"):
        assert expected in events
    assert events.index("down") < events.index("failover_started") < events.index("failback_done")
    assert harness.monitor.snapshot()["active"] == PRIMARY


def test_no_switch_while_only_db_is_down(harness: Harness) -> None:
    eventually(lambda: _both_up(harness))

    harness.db.alive = False
    for target in harness.targets.values():
        target.is_ready = False
    eventually(lambda: harness.monitor.snapshot()["targets"]["db"]["state"] == "down")
    time.sleep(0.2)

    assert harness.gateway.switches == []
    assert "db is down" in harness.monitor.snapshot()["decision"]["reason"]


def test_the_gateway_stops_bounding_registrations_while_db_restarts_and_bounds_them_again_after(
    harness: Harness,
) -> None:
    # At start the bound is applied once, whatever the file says: NGINX may have the other one.
    eventually(lambda: _both_up(harness) and harness.admission.changes == [True])

    harness.db.miss_reason = REFUSED  # its process is gone: it restarts
    harness.db.alive = False
    eventually(lambda: harness.admission.changes == [True, False])
    harness.db.alive = True
    eventually(lambda: harness.admission.changes == [True, False, True])

    assert harness.gateway.switches == []


def test_a_db_that_is_only_slow_keeps_the_bound(harness: Harness) -> None:
    eventually(lambda: _both_up(harness) and harness.admission.changes == [True])

    harness.db.miss_reason = "timeout"  # answering connections, too slowly: a flood, not a restart
    harness.db.alive = False
    eventually(lambda: harness.monitor.snapshot()["targets"]["db"]["state"] == "down")
    time.sleep(0.1)

    assert harness.admission.changes == [True]


def test_the_bound_comes_back_when_db_stays_away_longer_than_registro_would_wait(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, admission_lift_max_s=0.2)
    h.thread.start()
    try:
        eventually(lambda: h.admission.changes == [True])
        h.db.miss_reason = REFUSED
        h.db.alive = False
        eventually(lambda: h.admission.changes == [True, False, True])
    finally:
        h.monitor.stop()
        h.thread.join(timeout=5)
    assert h.monitor.snapshot()["targets"]["db"]["state"] == "down", "bounded again with db still away"


def test_a_failed_admission_change_is_retried(harness: Harness) -> None:
    eventually(lambda: harness.admission.changes == [True])
    harness.admission.fail_next = True

    harness.db.miss_reason = REFUSED
    harness.db.alive = False
    eventually(lambda: harness.admission.changes == [True, False])

    assert "alert" in harness.events()


def test_a_primary_that_keeps_crashing_is_restarted_with_growing_back_off(harness: Harness) -> None:
    eventually(lambda: _both_up(harness))

    harness.supervisor.crash_on_start.add(PRIMARY)
    harness.targets[PRIMARY].alive = False
    eventually(lambda: harness.supervisor.restarted.count(PRIMARY) >= 3)

    delays = [e["delay_s"] for e in read_events(harness.log_path) if e["event"] == "restart_issued"]
    assert delays[0] == 0.0
    assert delays[1] < delays[2]
    assert harness.monitor.snapshot()["active"] == BACKUP


def test_a_refused_configuration_keeps_the_route_and_raises_an_alert(harness: Harness) -> None:
    eventually(lambda: _both_up(harness))
    harness.gateway.refuse = True

    harness.supervisor.crash_on_start.add(PRIMARY)
    harness.targets[PRIMARY].alive = False
    eventually(lambda: "alert" in harness.events())

    assert harness.monitor.snapshot()["active"] == PRIMARY
    harness.gateway.refuse = False
    eventually(lambda: harness.monitor.snapshot()["active"] == BACKUP)


def test_a_switch_never_seen_live_is_not_claimed_done(harness: Harness) -> None:
    eventually(lambda: _both_up(harness))
    harness.gateway.never_live = True

    harness.targets[PRIMARY].alive = False
    eventually(lambda: "failover_unconfirmed" in harness.events())

    assert "failover_done" not in harness.events()
    # The upstream file names the backup now: the monitor goes on from the route written. (Read
    # from the event, not the live snapshot: the restarted primary may take the route back since.)
    [unconfirmed] = [e for e in read_events(harness.log_path) if e["event"] == "failover_unconfirmed"]
    assert unconfirmed["active"] == BACKUP


def test_a_restarted_monitor_adopts_the_route_it_finds(tmp_path: Path) -> None:
    h = Harness(tmp_path, active=BACKUP, fail_back=False)
    h.thread.start()
    try:
        eventually(lambda: _both_up(h))
        time.sleep(0.1)
        assert h.monitor.snapshot()["active"] == BACKUP
        assert h.gateway.switches == []
    finally:
        h.monitor.stop()
        h.thread.join(timeout=5)


def test_the_active_instances_readiness_is_asked_less_often_once_it_is_ready(tmp_path: Path) -> None:
    # Rounds paced as in service (1 s there): with none, asks queue up faster than they are answered.
    h = Harness(tmp_path, readiness_interval_s=0.02)
    h.targets[PRIMARY].is_ready = False  # the active instance, not ready yet
    h.thread.start()
    try:
        eventually(lambda: _both_up(h) and h.targets[BACKUP].readiness_asked >= 20)
        # Until it is first seen ready, the active instance is asked as often as the standby.
        assert h.targets[PRIMARY].readiness_asked >= h.targets[BACKUP].readiness_asked - 3

        h.targets[PRIMARY].is_ready = True
        eventually(lambda: h.monitor.snapshot()["targets"][PRIMARY]["ready"] is True)
        active_before, standby_before = (h.targets[name].readiness_asked for name in (PRIMARY, BACKUP))
        eventually(lambda: h.targets[BACKUP].readiness_asked - standby_before >= 30)
        active = h.targets[PRIMARY].readiness_asked - active_before
        standby = h.targets[BACKUP].readiness_asked - standby_before
    finally:
        h.monitor.stop()
        h.thread.join(timeout=5)
    # Every fifth round (ACTIVE_READINESS_EVERY), give or take a round at either end.
    assert 0 < active <= standby // 5 + 2

"""The open-loop generator against a real HTTP server on 127.0.0.1 that stalls and resets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sportapp_lab.jmeter.jtl import read_jtl
from sportapp_lab.jmeter.run import JMeterUnavailable, find_jmeter, run_jmeter
from sportapp_lab.load import LoadProgress, run_load, run_load_sync
from sportapp_lab.workload import LoadConfig
from tests.integration.lab.fake_api import FakeApi

pytestmark = pytest.mark.integration

PLAN = Path(__file__).resolve().parents[3] / "infra" / "jmeter" / "registration.jmx"


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = FakeApi()
    server.start()
    yield server
    server.stop()


def test_requests_leave_on_schedule_while_earlier_ones_stall(api: FakeApi) -> None:
    # Every fifth registration is held for 0.6 s: a closed-loop client would stop sending.
    api.stall_s = lambda slot: 0.6 if slot % 5 == 0 else 0.0
    config = LoadConfig(api.base_url, rate=50, duration_s=1.0, read_share=0.0, run_id="sched")

    records = run_load_sync(config)

    assert len(records) == 50
    assert all(r.ok for r in records)
    start = records[0].scheduled_at
    assert [round(r.scheduled_at - start, 3) for r in records[:3]] == [0.0, 0.02, 0.04]
    by_key = {a.key: a for a in api.arrivals}
    # Open loop: the four requests due after each stalled one reached the server while it was still
    # held. An order, not a figure: it holds however loaded the machine is.
    for i in range(0, 45, 5):
        held_until = records[i].scheduled_at + records[i].latency_ms / 1000
        assert all(by_key[r.idempotency_key].at < held_until for r in records[i + 1 : i + 5])
    # And none waited for a stall (0.6 s) to be sent: compared with the stall, not with a speed.
    assert max(r.sent_at - r.scheduled_at for r in records) < 0.6
    stalled = [r for i, r in enumerate(records) if i % 5 == 0]
    free = [r for i, r in enumerate(records) if i % 5 != 0]
    # Latency counts from the schedule: the stall shows in full, and only where it happened.
    assert min(r.latency_ms for r in stalled) >= 600.0
    assert max(r.latency_ms for r in free) < 600.0
    assert {r.served_by for r in records} == {"fake-registro"}
    assert all(r.user_id for r in records)


def test_a_reset_connection_is_retried_with_the_same_key_and_counted(api: FakeApi) -> None:
    # Slot 3 loses its first attempt; slot 7 loses every attempt.
    api.resets = lambda slot, attempt: (slot == 3 and attempt == 1) or slot == 7
    config = LoadConfig(api.base_url, rate=20, duration_s=0.5, read_share=0.0, run_id="reset")

    records = run_load_sync(config)

    recovered, lost = records[3], records[7]
    assert recovered.ok
    assert recovered.retries == 1
    assert [a.email for a in api.attempts(recovered.idempotency_key)] == [recovered.email] * 2
    assert not lost.ok
    assert lost.status is None
    assert lost.error == "connection"
    assert lost.retries == 2
    assert len(api.attempts(lost.idempotency_key)) == 3
    assert sum(r.retries for r in records) == 3
    assert all(r.retries == 0 for i, r in enumerate(records) if i not in (3, 7))


def test_an_http_error_status_is_never_retried(api: FakeApi) -> None:
    config = LoadConfig(api.base_url, rate=20, duration_s=0.5, read_share=0.0, invalid_emails=2, run_id="bad")

    records = run_load_sync(config)

    invalid = [r for r in records if r.invalid_email]
    assert [r.status for r in invalid] == [422, 422]
    assert all(r.ok and r.retries == 0 for r in invalid)
    assert all(len(api.attempts(r.idempotency_key)) == 1 for r in invalid)
    assert all(not r.email.count("@") for r in invalid)


def test_reads_ask_for_recently_acknowledged_users(api: FakeApi) -> None:
    config = LoadConfig(api.base_url, rate=40, duration_s=1.0, read_share=0.5, read_settle_s=0.1, run_id="rd")

    records = run_load_sync(config)

    reads = [r for r in records if r.kind == "read"]
    assert len(reads) == 20
    assert all(r.ok for r in records)  # the fake answers 404 to an id it never gave out
    assert {r.served_by for r in reads} == {"fake-consulta"}
    read_paths = [a.path for a in api.arrivals if a.path.startswith("/user-queries/")]
    # Before any user has settled the list is read; afterwards, single acknowledged users.
    assert read_paths[0] == "/user-queries/users?limit=5"
    by_id = [p for p in read_paths if p.removeprefix("/user-queries/users/") in api.users.values()]
    assert len(by_id) >= 10


def test_the_run_stops_by_itself_within_duration_and_drain_and_reports_progress(api: FakeApi) -> None:
    # Slot 2 would hang for a minute: the drain timeout ends it as a timeout.
    api.stall_s = lambda slot: 60.0 if slot == 2 else 0.0
    progress: list[LoadProgress] = []
    config = LoadConfig(
        api.base_url, rate=20, duration_s=1.0, read_share=0.0, timeout_s=30.0, drain_timeout_s=0.5,
        run_id="stop",
    )

    began = time.monotonic()
    records = run_load_sync(config, progress.append)
    took = time.monotonic() - began

    assert took < 1.0 + 0.5 + 0.5
    assert len(records) == 20
    assert records[2].error == "timeout"
    assert records[2].status is None
    assert records[2].latency_ms >= 1000.0
    assert sum(r.ok for r in records) == 19
    assert len(progress) >= 4
    assert progress[-1] == LoadProgress(progress[-1].elapsed_s, 20, 20, 19, 1, 0)


def test_a_request_past_its_own_timeout_is_a_timeout(api: FakeApi) -> None:
    api.stall_s = lambda slot: 5.0 if slot == 1 else 0.0
    config = LoadConfig(api.base_url, rate=10, duration_s=0.3, read_share=0.0, timeout_s=0.3, run_id="to")

    records = run_load_sync(config)

    assert [r.error for r in records] == [None, "timeout", None]
    assert 300.0 <= records[1].latency_ms < 1000.0


def test_requests_past_the_in_flight_cap_are_recorded_not_delayed(api: FakeApi) -> None:
    api.stall_s = lambda slot: 0.5
    config = LoadConfig(
        api.base_url, rate=40, duration_s=0.25, read_share=0.0, max_in_flight=4, run_id="cap"
    )

    records = run_load_sync(config)

    assert [r.error for r in records] == [None] * 4 + ["generator-saturated"] * 6
    assert all(r.latency_ms == 0.0 for r in records[4:])


def test_an_interrupted_run_stops_its_requests_and_closes_cleanly(api: FakeApi) -> None:
    api.stall_s = lambda slot: 5.0
    config = LoadConfig(api.base_url, rate=20, duration_s=5.0, read_share=0.0, run_id="int")

    began = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(asyncio.wait_for(run_load(config), timeout=0.5))

    assert time.monotonic() - began < 2.0


def test_jmeter_runs_the_same_workload_when_a_jmeter_5_is_installed(api: FakeApi, tmp_path: Path) -> None:
    try:
        find_jmeter()
    except JMeterUnavailable as why:
        pytest.skip(str(why))
    jtl = run_jmeter(PLAN, tmp_path, "127.0.0.1", api.port, rate=10, duration=5, read_share=0.2)

    records = read_jtl(jtl)
    registrations = [r for r in records if r.kind == "register"]
    assert registrations
    assert all(r.status == 201 for r in registrations)
    assert {r.served_by for r in registrations} == {"fake-registro"}
    keys = [a.key for a in api.arrivals if a.path == "/user-commands/users/register"]
    assert len(set(keys)) == len(keys) == len(registrations)
    assert all(a.email.endswith("@sportapp-experiment.dev") for a in api.arrivals if a.email)

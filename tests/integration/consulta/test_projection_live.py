"""consulta against the real db service, both under gunicorn with two workers each.

One worker of a consulta instance projects, the one holding its seat; a second instance on the same
read model races the first's projector. Every test checks that the read model ends up equal to the
write store, with nothing twice and nothing missing.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.consulta.processes import Service, Stack, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path)
    try:
        stack.start_db()
        stack.start_consulta()
        yield stack
    finally:
        stack.close()


def register_many(stack: Stack, emails: list[str]) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(stack.register, emails))


def total_in_consulta(stack: Stack) -> int:
    return int(stack.consulta_get("/user-queries/users?limit=1").json()["total"])


def assert_read_model_equals_write_store(stack: Stack) -> None:
    assert stack.db is not None
    assert stack.consulta is not None
    written = stack.all_pages(stack.db.url, "/user-db/users")
    shown = stack.all_pages(stack.consulta.url, "/user-queries/users")
    assert [(u["id"], u["correo"], u["created_at"]) for u in shown] == [
        (u["id"], u["correo"], u["created_at"]) for u in written
    ]
    [(rows, distinct_ids)] = stack.read_store_rows("SELECT count(*), count(DISTINCT id) FROM user_views")
    assert rows == distinct_ids == len(written)
    [(position,)] = stack.read_store_rows("SELECT position FROM projection_position")
    assert position == len(written)


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def at_position(metrics: str, position: int) -> str | None:
    """``metrics`` if its projection position gauge reads ``position``, else None."""
    return metrics if metric(metrics, "sportapp_projection_position") == position else None


def test_a_registered_user_is_visible_within_a_second(stack: Stack) -> None:
    user = stack.register("ana@example.com")
    registered = time.monotonic()

    response = eventually(
        lambda: (r := stack.consulta_get(f"/user-queries/users/{user['id']}")).ok and r,
        timeout_s=5,
        what="the user to show in consulta",
        every_s=0.01,
    )
    elapsed = time.monotonic() - registered

    assert elapsed < 1.0
    assert response.json()["correo"] == "ana@example.com"
    check = stack.consulta_get("/user-queries/users/check?correo=ANA@example.com").json()
    assert check["can_register"] is False


def seat_holders(service: Service) -> list[int]:
    """Which of ``service``'s workers hold a write lock from the first byte of a file (the seat):
    the kernel's list of POSIX locks, ``/proc/locks``, shows each one's pid and byte range."""
    workers = service.workers()
    holders = []
    for line in Path("/proc/locks").read_text().splitlines():
        # "1: POSIX  ADVISORY  WRITE 1234 00:2e:5678 0 0": a write lock from byte 0 to byte 0 (to
        # byte 1 while the holder also writes its record: the kernel joins a process's ranges).
        fields = line.split()
        seat_lock = fields[1:4] == ["POSIX", "ADVISORY", "WRITE"] and fields[6] == "0"
        if seat_lock and int(fields[4]) in workers:
            holders.append(int(fields[4]))
    return holders


def health(service: Service, http: Any) -> dict[str, Any]:
    """The projection's part of ``/health``, on a new connection (any worker may take it)."""
    response = http.get(service.url + "/health", headers={"Connection": "close"}, timeout=5)
    assert response.status_code == 200, response.text
    projection: dict[str, Any] = response.json()["checks"]["projection"]
    return projection


def test_many_registrations_by_racing_projectors_land_exactly_once(stack: Stack) -> None:
    replica = stack.start_replica()
    register_many(stack, [f"user{number}@example.com" for number in range(200)])

    eventually(lambda: total_in_consulta(stack) == 200, timeout_s=15, what="200 users in consulta")

    assert_read_model_equals_write_store(stack)
    replica_total = stack.http.get(replica.url + "/user-queries/users?limit=1", timeout=5).json()["total"]
    assert replica_total == 200
    health = eventually(
        lambda: (h := stack.consulta_get("/health").json())["checks"]["projection"]["lag_events"] == 0 and h,
        timeout_s=10,
        what="the projection to report no lag",
    )
    assert health["checks"]["projection"]["feed"] == "up"
    assert health["checks"]["projection"]["lag_ms"] is not None
    # Every event is added, and its lag observed, once: by the instance whose batch committed.
    added = lag_counts = 0.0
    for service in (stack.consulta, replica):
        assert service is not None
        # An instance whose batch lost the race hears of the winner's position on its next round.
        metrics = eventually(
            lambda url=service.url + "/metrics": at_position(stack.http.get(url, timeout=5).text, 200),
            timeout_s=10,
            what="the position gauge at 200",
        )
        added += metric(metrics, "sportapp_projection_views_added_total")
        lag_counts += metric(metrics, "sportapp_projection_lag_seconds_count")
    assert added == lag_counts == 200


def test_one_worker_of_an_instance_projects_and_another_takes_over_when_it_dies(stack: Stack) -> None:
    consulta = stack.consulta
    assert consulta is not None
    assert len(consulta.workers()) == 2
    [holder] = eventually(lambda: seat_holders(consulta), timeout_s=5, what="a seat holder")
    register_many(stack, [f"first{number}@example.com" for number in range(20)])
    eventually(lambda: total_in_consulta(stack) == 20, timeout_s=10, what="20 users in consulta")
    # gunicorn's master forks a worker in its place; the other worker already waits for the seat.
    os.kill(holder, signal.SIGKILL)

    [successor] = eventually(
        lambda: [pid for pid in seat_holders(consulta) if pid != holder],
        timeout_s=5,
        what="another worker to take the seat",
    )
    assert successor in consulta.workers()
    assert health(consulta, stack.http)["caught_up"] is True  # the instance stayed ready
    register_many(stack, [f"second{number}@example.com" for number in range(20)])
    eventually(lambda: total_in_consulta(stack) == 40, timeout_s=10, what="40 users in consulta")
    assert_read_model_equals_write_store(stack)
    assert seat_holders(consulta) == [successor]


def test_a_worker_that_does_not_project_reports_what_the_holder_published(stack: Stack) -> None:
    consulta = stack.consulta
    assert consulta is not None
    register_many(stack, [f"user{number}@example.com" for number in range(10)])
    eventually(lambda: total_in_consulta(stack) == 10, timeout_s=10, what="10 users in consulta")
    [holder] = eventually(lambda: seat_holders(consulta), timeout_s=5, what="a seat holder")
    expected = {"projector": "on", "position": 10, "head": 10, "feed": "up", "caught_up": True}

    # Stopped, the holder accepts nothing: every connection goes to the other worker, whose own
    # projector never ran (it waits for the seat), and which must answer with the holder's report.
    os.kill(holder, signal.SIGSTOP)
    try:
        for _ in range(5):
            projection = health(consulta, stack.http)
            assert {key: projection[key] for key in expected} == expected
    finally:
        os.kill(holder, signal.SIGCONT)


def test_a_takeover_while_db_is_down_keeps_the_instance_ready_on_its_views(stack: Stack) -> None:
    consulta = stack.consulta
    assert consulta is not None
    assert stack.db is not None
    register_many(stack, [f"user{number}@example.com" for number in range(10)])
    eventually(lambda: total_in_consulta(stack) == 10, timeout_s=10, what="10 users in consulta")
    [holder] = eventually(lambda: seat_holders(consulta), timeout_s=5, what="a seat holder")
    stack.db.kill()
    eventually(lambda: health(consulta, stack.http)["feed"] == "down", timeout_s=10, what="db down")

    os.kill(holder, signal.SIGKILL)
    eventually(
        lambda: [pid for pid in seat_holders(consulta) if pid != holder],
        timeout_s=5,
        what="another worker to take the seat",
    )

    for _ in range(5):
        projection = health(consulta, stack.http)  # 200: ready, on views it caught up with
        assert (projection["caught_up"], projection["position"]) == (True, 10)
    assert total_in_consulta(stack) == 10


def test_killed_consulta_resumes_from_its_stored_position(stack: Stack) -> None:
    register_many(stack, [f"early{number}@example.com" for number in range(20)])
    eventually(lambda: total_in_consulta(stack) == 20, timeout_s=10, what="20 users in consulta")
    [(stored,)] = stack.read_store_rows("SELECT position FROM projection_position")
    assert stored == 20

    assert stack.consulta is not None
    stack.consulta.kill()
    register_many(stack, [f"late{number}@example.com" for number in range(30)])
    stack.start_consulta()

    eventually(lambda: total_in_consulta(stack) == 50, timeout_s=10, what="50 users in consulta")
    assert_read_model_equals_write_store(stack)
    # The restarted instance pulled from position 20: it projected the 30 late events only.
    metrics = stack.consulta_get("/metrics").text
    assert metric(metrics, "sportapp_projection_lag_seconds_count") == 30


def test_consulta_serves_stale_reads_while_db_is_down_and_catches_up_after(stack: Stack) -> None:
    register_many(stack, [f"before{number}@example.com" for number in range(10)])
    eventually(lambda: total_in_consulta(stack) == 10, timeout_s=10, what="10 users in consulta")

    assert stack.db is not None
    stack.db.kill()

    def says_db_is_down() -> dict[str, Any] | None:
        response = stack.consulta_get("/health")
        assert response.status_code == 200, response.text
        projection = response.json()["checks"]["projection"]
        return projection if projection["feed"] == "down" else None

    eventually(says_db_is_down, timeout_s=10, what="consulta to report db down")
    assert total_in_consulta(stack) == 10
    assert stack.consulta_get("/user-queries/users/1").status_code == 200
    check = stack.consulta_get("/user-queries/users/check?correo=new@example.com").json()
    assert check["can_register"] is True

    stack.start_db()
    register_many(stack, [f"after{number}@example.com" for number in range(10)])

    eventually(lambda: total_in_consulta(stack) == 20, timeout_s=10, what="20 users in consulta")
    eventually(
        lambda: stack.consulta_get("/health").json()["checks"]["projection"]["feed"] == "up",
        timeout_s=10,
        what="consulta to report db up again",
    )
    assert_read_model_equals_write_store(stack)

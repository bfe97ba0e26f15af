"""consulta against the real db service, both under gunicorn with two workers each.

Two consulta workers means two projectors racing on one read model; every test checks that the
read model ends up equal to the write store, with nothing twice and nothing missing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.consulta.processes import Stack, eventually

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


def test_many_registrations_by_racing_projectors_land_exactly_once(stack: Stack) -> None:
    register_many(stack, [f"user{number}@example.com" for number in range(200)])

    eventually(lambda: total_in_consulta(stack) == 200, timeout_s=15, what="200 users in consulta")

    assert_read_model_equals_write_store(stack)
    health = eventually(
        lambda: (h := stack.consulta_get("/health").json())["checks"]["projection"]["lag_events"] == 0 and h,
        timeout_s=10,
        what="the projection to report no lag",
    )
    assert health["checks"]["projection"]["feed"] == "up"
    assert health["checks"]["projection"]["lag_ms"] is not None
    metrics = stack.consulta_get("/metrics").text
    assert metric(metrics, "sportapp_projection_position") == 200
    assert metric(metrics, "sportapp_projection_views_added_total") == 200
    # Every event's lag is observed once, by the projector whose batch committed.
    assert metric(metrics, "sportapp_projection_lag_seconds_count") == 200


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
    # One worker: this test is about stale reads once caught up, and a worker that never heard
    # from the feed before db went stays not ready, rightly. With two, requests in a row may all
    # reach the same worker, so "both ready" cannot be told from outside (it failed that way).
    assert stack.consulta is not None
    stack.consulta.kill()
    stack.start_consulta(workers=1)  # returns once it is ready: caught up with the feed
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

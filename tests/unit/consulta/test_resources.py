"""consulta's API through Flask's test client, on a read model in a temporary SQLite file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sportapp_consulta import PROJECTOR_EXTENSION, create_app
from sportapp_consulta.bootstrap import ConsultaComponents, bootstrap
from sportapp_consulta.settings import ConsultaSettings
from sportapp_core.ports import ProjectionStatus
from sportapp_core.services.projection import ProjectionSettings, Projector
from tests.unit.consulta.fakes import FakeClock, FakeFeed

PROBLEM = "application/problem+json"


def build(tmp_path: Path, feed: FakeFeed, **config: Any) -> tuple[Flask, ConsultaComponents]:
    config = {"read_store_url": f"sqlite:///{tmp_path / 'consulta.db'}", "projector": False, **config}
    services = bootstrap(ConsultaSettings(**config), source=feed, clock=feed.clock)
    app = create_app(config, services=services)
    app.config.update(TESTING=False, DEBUG=False)
    return app, services


@pytest.fixture
def feed() -> FakeFeed:
    feed = FakeFeed(FakeClock())
    for email in ("ana@example.com", "Bea@Example.com", "cy@example.com"):
        feed.register(email)
    return feed


@pytest.fixture
def client(tmp_path: Path, feed: FakeFeed) -> Iterator[FlaskClient]:
    app, services = build(tmp_path, feed)
    Projector(services.read_model, feed, feed.clock, settings=ProjectionSettings(wait_s=0)).run_once()
    yield app.test_client()
    services.close()


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status
    return body


def test_lists_users_by_keyset_pages(client: FlaskClient) -> None:
    first = client.get("/user-queries/users?limit=2").get_json()
    second = client.get(f"/user-queries/users?limit=2&after={first['next_after']}").get_json()

    assert [user["correo"] for user in first["users"]] == ["ana@example.com", "Bea@example.com"]
    assert first["total"] == 3
    assert first["next_after"] == 2
    assert [user["id"] for user in second["users"]] == [3]
    assert second["next_after"] is None


def test_shows_one_user_without_secrets(client: FlaskClient) -> None:
    response = client.get("/user-queries/users/1")

    assert response.status_code == 200
    assert response.get_json() == {
        "id": 1,
        "correo": "ana@example.com",
        "created_at": "2025-01-01T00:00:00+00:00",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/user-queries/users/1",
        "/user-queries/users?limit=1",
        "/user-queries/users/check?correo=dan@example.com",
    ],
)
def test_every_answer_is_json_whatever_the_accept_header_asks(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept": "application/xml, text/html;q=0.9"})

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() is not None


@pytest.mark.parametrize("user_id", [99, 0, 2**63, 10**40])
def test_an_unknown_user_is_a_404_problem(client: FlaskClient, user_id: int) -> None:
    body = problem(client.get(f"/user-queries/users/{user_id}"), 404)

    assert body["type"].endswith("/user-not-found")


def test_an_address_taken_in_another_case_cannot_register(client: FlaskClient) -> None:
    response = client.get("/user-queries/users/check?correo=BEA@example.com")

    assert response.status_code == 200
    assert response.get_json()["can_register"] is False
    assert "already registered" in response.get_json()["reason"]


def test_a_free_address_can_register(client: FlaskClient) -> None:
    response = client.get("/user-queries/users/check?correo=dan@example.com")

    assert response.get_json() == {"can_register": True, "reason": None}


def test_an_invalid_address_cannot_register_and_says_why(client: FlaskClient) -> None:
    body = client.get("/user-queries/users/check?correo=not-an-address").get_json()

    assert body["can_register"] is False
    assert body["reason"]


@pytest.mark.parametrize(
    "path",
    [
        "/user-queries/users/check",
        "/user-queries/users?limit=0",
        "/user-queries/users?limit=101",
        "/user-queries/users?after=-1",
        f"/user-queries/users?after={2**63}",
        "/user-queries/users?page=2",
    ],
)
def test_bad_query_parameters_are_422_problems(client: FlaskClient, path: str) -> None:
    body = problem(client.get(path), 422)

    assert body["errors"]


def test_writing_is_not_allowed_here(client: FlaskClient) -> None:
    response = client.post("/user-queries/users", json={"correo": "dan@example.com"})

    problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_unknown_paths_are_404_problems(client: FlaskClient) -> None:
    problem(client.get("/user-queries/nothing"), 404)


def test_health_without_a_projector_reports_the_stored_position(client: FlaskClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    checks = response.get_json()["checks"]
    assert checks["read_store"]["status"] == "up"
    assert checks["projection"]["position"] == 3
    assert checks["projection"]["projector"] == "off"


def wait_for(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def published_feed_up(services: ConsultaComponents) -> bool | None:
    """What the instance's projector last published of the feed, which every worker's /health reads."""
    assert services.seat is not None
    status = services.seat.latest()
    return None if status is None else status.feed_up


def test_projector_thread_serves_readiness_and_stops_cleanly(tmp_path: Path, feed: FakeFeed) -> None:
    feed.down = True
    app, services = build(tmp_path, feed, projector=True, projection_wait_s=0.01)
    client = app.test_client()
    projector = app.extensions[PROJECTOR_EXTENSION]
    try:
        wait_for(lambda: published_feed_up(services) is False)
        problem(client.get("/health"), 503)

        feed.down = False
        wait_for(lambda: client.get("/health").status_code == 200)
        assert client.get("/user-queries/users").get_json()["total"] == 3

        feed.down = True
        wait_for(lambda: published_feed_up(services) is False)
        response = client.get("/health")
        assert response.status_code == 200
        assert response.get_json()["checks"]["projection"]["feed"] == "down"
        metrics = client.get("/metrics").get_data(as_text=True)
        assert "sportapp_projection_feed_up 0.0" in metrics
    finally:
        assert projector.stop(timeout_s=5)
        services.close()
    assert not projector.is_alive()


def test_metrics_expose_the_projection(tmp_path: Path, feed: FakeFeed) -> None:
    app, services = build(tmp_path, feed, projector=True, projection_wait_s=0.01)
    projector = app.extensions[PROJECTOR_EXTENSION]
    try:
        # The seat hears of a status after the metrics do (ObserverGroup's order).
        assert services.seat is not None
        seat = services.seat
        wait_for(lambda: (seat.latest() or ProjectionStatus()).caught_up)
        text = app.test_client().get("/metrics").get_data(as_text=True)
    finally:
        projector.stop(timeout_s=5)
        services.close()

    assert "sportapp_projection_position 3.0" in text
    assert "sportapp_projection_lag_events 0.0" in text
    assert "sportapp_projection_lag_seconds_count 3.0" in text
    assert "sportapp_projection_views_added_total 3.0" in text

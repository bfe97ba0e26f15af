"""The db service's internal API over a real SQLite file and a real PostgreSQL schema (Flask's test
client, no HTTP server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from sportapp_core.db_schemas import record_request
from sportapp_core.domain import EmailAddress, NewUser
from sportapp_db import create_app
from sportapp_db.bootstrap import bootstrap
from sportapp_db.settings import DbSettings

pytestmark = pytest.mark.integration

HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"


@pytest.fixture
def client(store_url: str) -> Iterator[FlaskClient]:
    services = bootstrap(DbSettings(store_url=store_url))
    yield create_app({"instance": "db"}, services=services).test_client()
    services.close()  # Python 3.13 warns about SQLite connections left open


def _record(client: FlaskClient, email: str, key: str | None = None):
    # As registro sends it: the address parsed at the public edge, in both its forms.
    return client.post(
        "/user-db/users", json=record_request(NewUser(EmailAddress.parse(email), HASH), key)
    )


def test_a_recorded_user_has_one_event_on_the_feed(client: FlaskClient) -> None:
    created = _record(client, "Ana@Example.com")

    assert created.status_code == 201
    user = created.get_json()["user"]
    feed = client.get("/user-db/events?after=0").get_json()
    assert feed["head"] == 1
    assert [e["payload"]["user_id"] for e in feed["events"]] == [user["id"]]
    assert "password_hash" not in feed["events"][0]["payload"]


def test_the_unique_canonical_email_refuses_a_second_user(client: FlaskClient) -> None:
    _record(client, "ana@example.com")

    response = _record(client, "ANA@example.COM")

    assert response.status_code == 409
    assert client.get("/user-db/events?after=0").get_json()["head"] == 1


def test_the_feed_is_ordered_and_resumable(client: FlaskClient) -> None:
    for i in range(25):
        _record(client, f"user{i}@example.com")

    first = client.get("/user-db/events?after=0&limit=10").get_json()["events"]
    rest = client.get(f"/user-db/events?after={first[-1]['position']}&limit=100").get_json()["events"]

    positions = [e["position"] for e in first + rest]
    assert positions == list(range(1, 26))


def _follow(client: FlaskClient, query: str) -> Iterator[dict[str, Any]]:
    response = client.get("/user-db/events/stream?" + query, buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    try:
        for chunk in response.response:
            yield json.loads(chunk)
    finally:
        response.close()


def test_a_follower_gets_the_head_at_once_then_the_next_event_as_it_commits(client: FlaskClient) -> None:
    _record(client, "ana@example.com")
    batches = _follow(client, "after=1&heartbeat=5")

    first = next(batches)
    writer = threading.Timer(0.3, lambda: _record(client, "bea@example.com"))
    writer.start()
    second = next(batches)
    writer.join()

    assert first == {"events": [], "head": 1}
    assert [e["payload"]["email"] for e in second["events"]] == ["bea@example.com"]
    assert second["head"] == 2


def test_events_committed_within_the_gathering_share_a_line(store_url: str) -> None:
    services = bootstrap(DbSettings(store_url=store_url, event_stream_gather_s=1.0))
    client = create_app({"instance": "db"}, services=services).test_client()
    try:
        _record(client, "ana@example.com")
        batches = _follow(client, "after=0&heartbeat=5")
        assert [e["position"] for e in next(batches)["events"]] == [1]

        _record(client, "bea@example.com")
        writer = threading.Timer(0.2, lambda: _record(client, "cai@example.com"))
        writer.start()
        second = next(batches)  # bea is there at once; cai commits while the line is held
        writer.join()

        assert [e["payload"]["email"] for e in second["events"]] == ["bea@example.com", "cai@example.com"]
    finally:
        services.close()


def test_a_quiet_stream_sends_heartbeats(client: FlaskClient) -> None:
    batches = _follow(client, "after=0&heartbeat=0.2")

    assert [next(batches) for _ in range(3)] == [{"events": [], "head": 0}] * 3


@pytest.mark.parametrize("query", ["heartbeat=0", "heartbeat=60", "wait=1", "after=-1"])
def test_a_stream_query_out_of_bounds_is_refused(client: FlaskClient, query: str) -> None:
    assert client.get("/user-db/events/stream?" + query).status_code == 422


def test_recording_twice_under_one_key_replays(client: FlaskClient) -> None:
    first = _record(client, "ana@example.com", key="k1")
    second = _record(client, "ANA@example.com", key="k1")

    assert second.status_code == 200
    assert second.get_json()["replayed"] is True
    assert second.get_json()["user"]["id"] == first.get_json()["user"]["id"]
    assert second.get_json()["user"]["password_hash"] == HASH, "registro verifies a replay with it"


@pytest.mark.parametrize("key", ["k1", "a/b", "..", "/x/claim", "a?b#c&d=e", "50% off"])
def test_a_key_under_another_address_is_refused_whatever_its_characters(
    client: FlaskClient, key: str
) -> None:
    _record(client, "ana@example.com", key=key)

    response = _record(client, "bea@example.com", key=key)

    assert response.status_code == 422
    assert response.get_json()["type"].endswith("/idempotency-key-reused")


def test_users_list_by_keyset_pages(client: FlaskClient) -> None:
    for i in range(5):
        _record(client, f"user{i}@example.com")

    page = client.get("/user-db/users?limit=2").get_json()
    following = client.get(f"/user-db/users?limit=2&after={page['next_after']}").get_json()

    assert page["total"] == 5
    assert [u["id"] for u in page["users"] + following["users"]] == [1, 2, 3, 4]
    assert "password_hash" not in page["users"][0]


def test_a_record_request_is_refused_whole_when_a_field_is_wrong(client: FlaskClient) -> None:
    body = record_request(NewUser(EmailAddress.parse("ana@example.com"), HASH), None)

    response = client.post("/user-db/users", json={**body, "owner": "registro-primary"})

    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"owner"}
    assert client.get("/user-db/events?after=0").get_json()["head"] == 0


def test_health_reports_the_outbox_head(client: FlaskClient) -> None:
    _record(client, "ana@example.com")

    health = client.get("/health").get_json()

    assert health["status"] == "ready"
    assert health["checks"]["store"]["outbox_head"] == 1

"""The db service's feed client over a fake HTTP client: parsing, timeouts, outages."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from sportapp_core.adapters.http.db_client import UnexpectedResponse
from sportapp_core.adapters.http.feed_client import DbServiceFeed
from sportapp_core.adapters.http.session import ServiceClient, ServiceResponse, ServiceUnreachable
from sportapp_core.services.errors import DependencyUnavailable

PAGE = {
    "events": [
        {
            "position": 7,
            "name": "UserRegistered",
            "payload": {"user_id": 3, "email": "ana@example.com"},
            "recorded_at": "2025-01-01T00:00:00+00:00",
        }
    ],
    "head": 9,
}


class FakeClient(ServiceClient):
    """Answers every request with a canned response, or raises a canned error; records the calls."""

    def __init__(self, status: int = 200, body: object = PAGE, error: Exception | None = None) -> None:
        super().__init__("http://db.test")
        self.calls: list[dict[str, Any]] = []
        self._status = status
        self._body = body
        self._error = error

    def request(self, method: str, path: str, **kwargs: Any) -> ServiceResponse:
        self.calls.append({"method": method, "path": path, **kwargs})
        if self._error is not None:
            raise self._error
        raw = self._body if isinstance(self._body, str) else json.dumps(self._body)
        return ServiceResponse(self._status, {}, raw.encode())


def test_a_page_becomes_stored_events_and_the_head() -> None:
    batch = DbServiceFeed(FakeClient()).read(after=6, limit=50, wait_s=2.0)

    assert batch.head == 9
    [event] = batch.events
    assert (event.position, event.name, event.payload["user_id"]) == (7, "UserRegistered", 3)
    assert event.recorded_at == datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_asks_for_the_position_and_outwaits_the_long_poll() -> None:
    client = FakeClient()

    DbServiceFeed(client).read(after=6, limit=50, wait_s=2.0)

    [call] = client.calls
    assert (call["method"], call["path"]) == ("GET", "/user-db/events")
    assert call["params"] == {"after": 6, "limit": 50, "wait": 2.0}
    assert call["read_timeout_s"] > 2.0


@pytest.mark.parametrize(
    "client",
    [
        FakeClient(error=ServiceUnreachable("connection")),
        FakeClient(error=ServiceUnreachable("timeout")),
        FakeClient(status=503, body={"status": 503}),
        FakeClient(status=500, body="boom"),
    ],
    ids=["refused", "timeout", "503", "500"],
)
def test_outages_are_the_db_being_unavailable(client: FakeClient) -> None:
    with pytest.raises(DependencyUnavailable) as raised:
        DbServiceFeed(client).read(after=0, limit=1, wait_s=0.0)

    assert raised.value.dependency == "db"


@pytest.mark.parametrize(
    "client",
    [
        FakeClient(status=422, body={"errors": {"after": ["Must be >= 0."]}}),
        FakeClient(body="not json"),
        FakeClient(body={"events": [{"position": "x"}], "head": 1}),
    ],
    ids=["422", "not-json", "bad-event"],
)
def test_answers_outside_the_contract_are_bugs_not_outages(client: FakeClient) -> None:
    with pytest.raises(UnexpectedResponse):
        DbServiceFeed(client).read(after=0, limit=1, wait_s=0.0)
